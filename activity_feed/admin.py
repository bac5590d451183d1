"""Events are read-only everywhere, the admin included; ingestion sources are managed here."""

from django.contrib import admin

from activity_feed.models import ActivityEvent, EventRead, IngestionSource, OutboxEvent, ReadMarker
from ocx.core.access import Perm, has_perm
from ocx.core.admin import ReadOnlyAdminMixin, TenantScopedAdminMixin


class ReadOnlyAdmin(ReadOnlyAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    pass


@admin.register(ActivityEvent)
class ActivityEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "timestamp", "tenant", "type", "title", "source", "priority", "user_name"]
    list_filter = ["tenant", "source", "priority", "status", "type", "source_system"]
    search_fields = ["title", "type", "entity_id", "idempotency_key", "correlation_id", "=event_id"]
    date_hierarchy = "timestamp"
    list_select_related = ["tenant"]
    show_full_result_count = False  # counting a million events per page view is wasteful


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "tenant", "event_type", "status", "attempts", "available_at", "processed_at"]
    list_filter = ["status", "tenant"]
    search_fields = ["event_type", "last_error"]
    list_select_related = ["tenant"]


@admin.register(EventRead)
class EventReadAdmin(ReadOnlyAdmin):
    list_display = ["id", "tenant", "user", "event", "read_at"]
    list_select_related = ["tenant", "user", "event"]
    raw_id_fields = ["event"]


@admin.register(ReadMarker)
class ReadMarkerAdmin(ReadOnlyAdmin):
    list_display = ["id", "tenant", "user", "up_to_id", "read_at"]
    list_select_related = ["tenant", "user"]


@admin.register(IngestionSource)
class IngestionSourceAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    """Tenant admins (MANAGE_INGESTION) manage their sources: key, secret, rotation, active."""

    list_display = ["name", "kind", "tenant", "is_active", "key", "updated_at"]
    list_filter = ["kind", "is_active", "tenant"]
    search_fields = ["name", "key"]
    list_select_related = ["tenant"]
    readonly_fields = ["created_at", "updated_at", "endpoint"]
    fields = [
        "tenant",
        "kind",
        "name",
        "is_active",
        "key",
        "endpoint",
        "secret",
        "previous_secret",
        "created_at",
        "updated_at",
    ]

    @admin.display(description="Delivery URL (path)")
    def endpoint(self, obj):
        if not obj or not obj.pk:
            return "—"
        if obj.kind == "webhook":
            return f"/api/v1/ingest/webhook/{obj.key}"
        return f"/api/v1/ingest/{obj.kind}?source={obj.key}"

    def _may_manage(self, request, obj=None) -> bool:
        if request.user.is_superuser:
            return True
        if obj is not None:
            return has_perm(request.user, obj.tenant, Perm.MANAGE_INGESTION)
        return any(has_perm(request.user, m.tenant, Perm.MANAGE_INGESTION) for m in request.user.memberships.all())

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) and self._may_manage(request, obj)

    def has_add_permission(self, request):
        return super().has_add_permission(request) and self._may_manage(request)

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._may_manage(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._may_manage(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "tenant" and not request.user.is_superuser:
            allowed = [
                m.tenant_id
                for m in request.user.memberships.all()
                if has_perm(request.user, m.tenant_id, Perm.MANAGE_INGESTION)
            ]
            formfield.queryset = formfield.queryset.filter(pk__in=allowed)
        return formfield
