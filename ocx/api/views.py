"""View bases: every API view resolves the request's tenant after authentication."""

from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.authtoken.models import Token
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from ocx import errors
from ocx.access import has_perm
from ocx.api.serializers import InputSerializer
from ocx.tenancy import resolve_request_tenant


class TenantMixin:
    """Sets ``request.tenant`` from the user's membership (``X-Tenant`` picks one).

    ``tenant_queryset()`` gives the model's rows of that tenant only, so a viewset built on it
    answers 404 for another tenant's row.
    """

    model = None
    required_perm: str | None = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        request.tenant = resolve_request_tenant(request)
        if self.required_perm and not has_perm(request.user, request.tenant, self.required_perm):
            raise errors.PermissionDenied(details={"required_permission": self.required_perm})

    def tenant_queryset(self):
        return self.model.objects.for_tenant(self.request.tenant)

    def require(self, perm: str) -> None:
        if not has_perm(self.request.user, self.request.tenant, perm):
            raise errors.PermissionDenied(details={"required_permission": perm})


class TenantAPIView(TenantMixin, APIView):
    pass


class TenantViewSet(TenantMixin, GenericViewSet):
    def get_queryset(self):
        return self.tenant_queryset()


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
        from ocx.access import ROLE_PERMISSIONS, role_in

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
    """The cheapest authenticated DRF endpoint: the benchmark's baseline."""

    @extend_schema(responses={200: inline_serializer("Pong", {"pong": serializers.BooleanField()})})
    def get(self, request):
        return Response({"pong": True})
