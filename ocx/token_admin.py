"""The admin of API tokens: a tenant's staff see (and may revoke) the tokens of their tenants'
members, never a key (only its prefix); tokens are issued by their owner through the API."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from ocx.core import tokens
from ocx.core.admin import SystemRecordAdminMixin, TenantScopedAdminMixin, user_tenant_ids
from ocx.core.models import ApiToken, Membership


@admin.register(ApiToken)
class ApiTokenAdmin(TenantScopedAdminMixin, SystemRecordAdminMixin, SimpleHistoryAdmin):
    list_display = ["prefix", "name", "user", "state", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["revoked_at", "expires_at"]
    search_fields = ["prefix", "name", "user__username"]
    readonly_fields = [
        "public_id",
        "user",
        "name",
        "prefix",
        "created_at",
        "expires_at",
        "last_used_at",
        "last_used_ip",
        "revoked_at",
        "rotated_from",
    ]
    actions = ["revoke"]

    def scope_to_user_tenants(self, request, queryset):
        # A token is a user's, not a tenant's: it is in scope when its user is a member of one of
        # the staff user's tenants (for the token rows and their history rows alike).
        if request.user.is_superuser:
            return queryset
        members = Membership.objects.filter(tenant_id__in=user_tenant_ids(request)).values("user_id")
        return queryset.filter(user_id__in=members)

    @admin.display(description="state")
    def state(self, token: ApiToken) -> str:
        return tokens.token_state(token, now=timezone.now())

    @admin.action(description="Revoke the selected tokens", permissions=["change_state"])
    def revoke(self, request, queryset):
        count = 0
        for token in queryset:  # the admin's queryset: in the user's scope only
            if token.revoked_at is None:
                tokens.token_revoke(actor=request.user, token_id=token.public_id, admin=True)
                count += 1
        self.message_user(request, f"{count} token(s) revoked.", messages.SUCCESS)

    def has_change_state_permission(self, request) -> bool:
        return request.user.has_perm("ocx.change_apitoken")

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the row is the audit trail
