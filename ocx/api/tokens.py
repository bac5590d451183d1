"""``/api/v1/auth/tokens``: the caller's own API tokens — list, issue, rotate, revoke.

Owner-scoped: another user's token id is a 404 (whatever the caller's role). A key is shown
once, in the answer that issues it (issue or rotate); lists show its first characters only.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from ocx.core import tokens
from ocx.core.api.serializers import InputSerializer
from ocx.core.api.views import TenantHeaderPermission


class TokenOutput(serializers.Serializer):
    id = serializers.UUIDField(source="public_id")
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The key's first characters (the key itself is never shown again).")
    state = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField(allow_null=True, help_text="null: never expires.")
    last_used_at = serializers.DateTimeField(allow_null=True, help_text="Updated at most once a minute.")
    revoked_at = serializers.DateTimeField(allow_null=True)
    rotated_from = serializers.UUIDField(source="rotated_from.public_id", allow_null=True, default=None)

    @extend_schema_field(serializers.ChoiceField(choices=tokens.TOKEN_STATES))
    def get_state(self, token) -> str:
        return tokens.token_state(token, now=self.context.get("now") or timezone.now())


class IssuedTokenOutput(TokenOutput):
    key = serializers.CharField(help_text="The secret: `Authorization: Bearer <key>`. Shown only in this answer.")


class TokenCreateInput(InputSerializer):
    name = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
    expires_in_days = serializers.IntegerField(
        min_value=1,
        max_value=36500,
        required=False,
        help_text="Lifetime in days; at most (and by default) OCX_TOKEN_LIFETIME_DAYS.",
    )


class TokenRotateInput(InputSerializer):
    grace_seconds = serializers.IntegerField(
        min_value=0,
        max_value=30 * 86400,
        required=False,
        help_text="How long the old key keeps working (default OCX_TOKEN_ROTATION_GRACE_SECONDS; 0: not at all).",
    )


def _issued(issued: tokens.IssuedToken, now) -> dict:
    data = TokenOutput(issued.token, context={"now": now}).data
    return {**data, "key": issued.key}


class _OwnTokensView(APIView):
    """Authenticated (token or session); acts in no tenant, but refuses a foreign ``X-Tenant``."""

    permission_classes = [IsAuthenticated, TenantHeaderPermission]


class TokenListView(_OwnTokensView):
    @extend_schema(operation_id="auth_tokens_list", responses={200: TokenOutput(many=True)})
    def get(self, request):
        """The caller's tokens, newest first, with their state (revoked and expired ones included)."""
        now = timezone.now()
        rows = tokens.token_list_for_user(user=request.user)[:500]
        return Response(TokenOutput(rows, many=True, context={"now": now}).data)

    @extend_schema(operation_id="auth_tokens_create", request=TokenCreateInput, responses={201: IssuedTokenOutput})
    def post(self, request):
        """Issue a new token for the caller (another client, or a key with a shorter life)."""
        data = TokenCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        days = data.validated_data.get("expires_in_days")
        now = timezone.now()
        issued = tokens.token_issue(
            actor=request.user,
            name=data.validated_data["name"],
            lifetime=timedelta(days=days) if days else None,
            now=now,
        )
        return Response(_issued(issued, now), status=status.HTTP_201_CREATED)


class TokenDetailView(_OwnTokensView):
    @extend_schema(operation_id="auth_tokens_retrieve", responses={200: TokenOutput})
    def get(self, request, token_id):
        token = tokens.token_get_for_user(user=request.user, token_id=token_id)
        return Response(TokenOutput(token).data)


class TokenRotateView(_OwnTokensView):
    error_statuses = {"POST": (409,)}

    @extend_schema(operation_id="auth_tokens_rotate", request=TokenRotateInput, responses={201: IssuedTokenOutput})
    def post(self, request, token_id):
        """Issue the successor of a token; the old key keeps working for the grace period, then
        expires (revoke it sooner once every client has the new key). A revoked, expired or
        already rotated token is a 409."""
        data = TokenRotateInput(data=request.data)
        data.is_valid(raise_exception=True)
        grace = data.validated_data.get("grace_seconds")
        now = timezone.now()
        issued = tokens.token_rotate(
            actor=request.user,
            token_id=token_id,
            grace=timedelta(seconds=grace) if grace is not None else None,
            now=now,
        )
        return Response(_issued(issued, now), status=status.HTTP_201_CREATED)


class TokenRevokeView(_OwnTokensView):
    @extend_schema(operation_id="auth_tokens_revoke", request=None, responses={200: TokenOutput})
    def post(self, request, token_id):
        """The token stops authenticating now (revoking it again changes nothing)."""
        now = timezone.now()
        token = tokens.token_revoke(actor=request.user, token_id=token_id, now=now)
        return Response(TokenOutput(token, context={"now": now}).data)
