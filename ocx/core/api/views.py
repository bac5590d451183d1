"""View bases: every API view resolves the request's tenant after authentication."""

from __future__ import annotations

from rest_framework.permissions import BasePermission
from rest_framework.views import APIView
from rest_framework.viewsets import GenericViewSet

from ocx.core import errors
from ocx.core.access import has_perm
from ocx.core.tenancy import TENANT_HEADER, resolve_request_tenant


class TenantMixin:
    """Sets ``request.tenant`` from the user's membership (``X-Tenant`` picks one), then checks
    the permissions the view declares, before the handler runs.

    ``required_perm`` is needed for every method; ``required_perms`` per HTTP method
    (``{"POST": Perm.CREATE_TASK}``), where a tuple means any one of them (the service still
    checks the exact rule, e.g. which approval type). Checking here, before the handler reads the
    body, is what makes a caller without the permission get 403 whatever they send: validating
    first would answer an incomplete body 400 and tell a viewer the body's rules.

    ``tenant_queryset()`` gives the model's rows of that tenant only, so a viewset built on it
    answers 404 for another tenant's row.
    """

    model = None
    required_perm: str | None = None
    required_perms: dict[str, str | tuple[str, ...]] = {}

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        request.tenant = resolve_request_tenant(request)
        if self.required_perm:
            self.require(self.required_perm)
        method = "GET" if request.method == "HEAD" else request.method
        wanted = self.required_perms.get(method)
        if isinstance(wanted, str):
            self.require(wanted)
        elif wanted and not any(has_perm(request.user, request.tenant, perm) for perm in wanted):
            raise errors.PermissionDenied(details={"required_permission": list(wanted)})

    def tenant_queryset(self):
        return self.model.objects.for_tenant(self.request.tenant)

    def require(self, perm: str) -> None:
        if not has_perm(self.request.user, self.request.tenant, perm):
            raise errors.PermissionDenied(details={"required_permission": perm})


class TenantAPIView(TenantMixin, APIView):
    pass


class TenantHeaderPermission(BasePermission):
    """For views that act in no tenant (``ping``): an ``X-Tenant`` the authenticated caller is not
    a member of is still refused (403), as every tenant view refuses it. Anonymous callers (the
    token endpoint, public metadata, signed ingestion) have no memberships to check it against."""

    def has_permission(self, request, view):
        if request.META.get(TENANT_HEADER) and getattr(request.user, "is_authenticated", False):
            resolve_request_tenant(request)  # raises PermissionDenied for a foreign tenant
        return True


class TenantViewSet(TenantMixin, GenericViewSet):
    def get_queryset(self):
        return self.tenant_queryset()
