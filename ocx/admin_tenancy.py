"""Admin scoping: a staff user sees the rows of the tenants they belong to; a superuser, all."""

from __future__ import annotations


class TenantScopedAdminMixin:
    def get_queryset(self, request):
        qs = super().get_queryset(request)
        if request.user.is_superuser:
            return qs
        return qs.filter(tenant__memberships__user=request.user).distinct()

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "tenant" and not request.user.is_superuser:
            from ocx.models import Tenant

            kwargs["queryset"] = Tenant.objects.filter(memberships__user=request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
