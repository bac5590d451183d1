"""The admin site's wiring: OCX's branding, the styled refusal page, the tenancy admins."""

from django.contrib import admin
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import defaults
from simple_history.admin import SimpleHistoryAdmin

from ocx.core.admin import TenantScopedAdminMixin
from ocx.core.models import Membership, Tenant

admin.site.site_header = "OCX"
admin.site.site_title = "OCX"
admin.site.index_title = "OCX governance"

REFUSED_DEFAULT = "You do not have permission to do this."


def permission_denied(request, exception=None):
    """``handler403``: a refusal in the admin is the admin's own page naming the reason (what
    the service or the guard said), not a bare "403 Forbidden"; elsewhere Django's page."""
    if not (request.path.startswith(reverse("admin:index")) and admin.site.has_permission(request)):
        return defaults.permission_denied(request, exception)
    reason = str(exception or "").strip() or REFUSED_DEFAULT
    back = request.META.get("HTTP_REFERER", "")
    same_site = url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure())
    context = {
        **admin.site.each_context(request),
        "title": "Not allowed",
        "reason": reason,
        "back_url": back if back and same_site and back != request.build_absolute_uri() else "",
    }
    return render(request, "admin/ocx/refused.html", context, status=403)


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


from ocx import token_admin  # noqa: E402,F401 - registers the API tokens admin (issue 11)
