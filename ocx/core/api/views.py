"""View bases: every API view resolves the request's tenant after authentication."""

from __future__ import annotations

from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from ocx.core import errors
from ocx.core.access import has_perm
from ocx.core.tenancy import resolve_request_tenant


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
