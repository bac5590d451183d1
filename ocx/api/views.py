"""The project's own endpoints: token, caller, ping."""

from __future__ import annotations

from django.contrib.auth import authenticate
from django.contrib.auth.signals import user_logged_in
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from ocx.core import errors, tokens
from ocx.core.api.serializers import InputSerializer
from ocx.core.api.views import TenantAPIView, TenantHeaderPermission
from ocx.security import lockout_error


class TokenInput(InputSerializer):
    username = serializers.CharField()
    password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})


class TokenLoginOutput(serializers.Serializer):
    token = serializers.CharField(help_text="The key: `Authorization: Bearer <token>`. Shown only in this answer.")
    id = serializers.UUIDField(help_text="The token's id under /api/v1/auth/tokens (rotate, revoke).")
    expires_at = serializers.DateTimeField(allow_null=True, help_text="null: never expires.")


class ObtainTokenView(APIView):
    """``POST /api/v1/auth/token`` with username and password issues a new token
    ``{"token", "id", "expires_at"}`` (each login its own key; list and revoke them under
    ``/api/v1/auth/tokens``). Failed logins are counted per username and address (django-axes):
    past ``OCX_LOGIN_FAILURE_LIMIT`` the pair is locked for ``OCX_LOGIN_COOLOFF_MINUTES``, a 429
    ``LOGIN_LOCKED_OUT`` with ``Retry-After``."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    error_statuses = {"POST": (429,)}

    @extend_schema(request=TokenInput, responses={200: TokenLoginOutput}, auth=[])
    def post(self, request):
        data = TokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        # django-axes reads (and flags) the Django request: its backend refuses a locked-out pair
        # before the password is checked, its signal handler counts the failure.
        user = authenticate(request._request, **data.validated_data)
        if getattr(request._request, "axes_locked_out", False):
            raise lockout_error()
        if user is None or not user.is_active:
            raise errors.AuthenticationRequired(
                "Unable to log in with the provided credentials.", error_code="AUTHENTICATION_FAILED"
            )
        # A token login is a login: Django records last_login, django-axes resets the failures.
        user_logged_in.send(sender=type(user), request=request._request, user=user)
        issued = tokens.token_issue(actor=user, name="login")
        body = {"token": issued.key, "id": issued.token.public_id, "expires_at": issued.token.expires_at}
        return Response(TokenLoginOutput(body).data, status=status.HTTP_200_OK)


class MeView(TenantAPIView):
    """Who the caller is, in which tenant, with which role and permissions."""

    @extend_schema(responses={200: dict})
    def get(self, request):
        from ocx.core.access import ROLE_PERMISSIONS, role_in

        role = role_in(request.user, request.tenant)
        perms = sorted(ROLE_PERMISSIONS.get(role, ())) if not request.user.is_superuser else ["*"]
        return Response(
            {
                "username": request.user.get_username(),
                "tenant": request.tenant.slug,
                "role": role,
                "permissions": perms,
                "tenants": [
                    {"slug": m.tenant.slug, "role": m.role}
                    for m in request.user.memberships.select_related("tenant").order_by("tenant__slug")
                ],
            }
        )


class PingView(APIView):
    """The cheapest authenticated DRF endpoint: the benchmark's baseline. It acts in no tenant,
    but a foreign ``X-Tenant`` is refused here as everywhere (no query without the header)."""

    permission_classes = [IsAuthenticated, TenantHeaderPermission]

    @extend_schema(responses={200: inline_serializer("Pong", {"pong": serializers.BooleanField()})})
    def get(self, request):
        return Response({"pong": True})
