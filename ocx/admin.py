from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from ocx.core.admin import TenantScopedAdminMixin
from ocx.core.models import Membership, Tenant


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Tenant)
class TenantAdmin(TenantScopedAdminMixin, SimpleHistoryAdmin):
    """A tenant's staff see (and, with the model permission, edit) their own tenants only."""

    tenant_lookup = "id"
    list_display = ["slug", "name", "is_active", "created_at"]
    search_fields = ["slug", "name"]
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(TenantScopedAdminMixin, SimpleHistoryAdmin):
    any_user_fields = ("user",)  # adding a member names a user of none of your tenants yet
    list_display = ["user", "tenant", "role", "created_at"]
    list_filter = ["tenant", "role"]
    search_fields = ["user__username", "tenant__slug"]
    autocomplete_fields = ["user"]
