"""Admin scoping: a staff user sees the rows of the tenants they belong to; a superuser, all.
And the two admin shapes of rows only the system writes."""

from __future__ import annotations


class TenantScopedAdminMixin:
    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(tenant__memberships__user=request.user).distinct()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "tenant" and not request.user.is_superuser:
            from ocx.core.models import Tenant

            kwargs["queryset"] = Tenant.objects.filter(memberships__user=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class SystemRecordAdminMixin:
    """Rows the system writes (transitions, deliveries, trigger runs): never added or edited by
    hand in the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyAdminMixin(SystemRecordAdminMixin):
    """Immutable rows (events, executions): not deleted by hand either."""

    def has_delete_permission(self, request, obj=None):
        return False
