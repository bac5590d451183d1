"""Events are read-only everywhere, the admin included."""

from django.contrib import admin

from activity_feed.models import ActivityEvent, OutboxEvent
from ocx.admin_tenancy import TenantScopedAdminMixin


class ReadOnlyAdmin(TenantScopedAdminMixin, admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ActivityEvent)
class ActivityEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "timestamp", "tenant", "type", "title", "priority", "user_name"]
    list_filter = ["tenant", "source", "priority", "type"]
    search_fields = ["title", "type", "entity_id", "idempotency_key", "correlation_id"]
    date_hierarchy = "timestamp"
    list_select_related = ["tenant"]


@admin.register(OutboxEvent)
class OutboxEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "tenant", "event_type", "status", "attempts", "available_at", "processed_at"]
    list_filter = ["status", "tenant"]
    search_fields = ["event_type", "last_error"]
    list_select_related = ["tenant"]
