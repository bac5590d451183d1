"""The project's own endpoints: token, caller, ping."""

from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from ocx.core import errors
from ocx.core.api.serializers import InputSerializer
from ocx.core.api.views import TenantAPIView, TenantHeaderPermission


class TokenInput(InputSerializer):
    username = serializers.CharField()
    password = serializers.CharField(trim_whitespace=False, style={"input_type": "password"})


class ObtainTokenView(APIView):
    """``POST /api/v1/auth/token`` with username and password returns ``{"token": ...}``."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=TokenInput,
        responses={200: inline_serializer("TokenOutput", {"token": serializers.CharField()})},
        auth=[],
    )
    def post(self, request):
        data = TokenInput(data=request.data)
        data.is_valid(raise_exception=True)
        user = authenticate(request, **data.validated_data)
        if user is None or not user.is_active:
            raise errors.AuthenticationRequired(
                "Unable to log in with the provided credentials.", error_code="AUTHENTICATION_FAILED"
            )
        token, _ = Token.objects.get_or_create(user=user)
        return Response({"token": token.key}, status=status.HTTP_200_OK)


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
