"""Which tenant a request (or a WebSocket) acts in."""

from __future__ import annotations

from ocx.core import errors

TENANT_HEADER = "HTTP_X_TENANT"


def resolve_tenant(user, wanted: str | None = None):
    """The tenant ``user`` acts in.

    ``wanted`` (a slug, from ``X-Tenant`` or ``?tenant=``) picks one of the user's tenants;
    without it the user's first membership is used. A tenant the user does not belong to is
    refused (403); a superuser may act in any tenant.
    """
    from ocx.core.models import Tenant

    wanted = (wanted or "").strip()
    if user.is_superuser and wanted:
        tenant = Tenant.objects.filter(slug=wanted, is_active=True).first()
        if tenant is None:
            raise errors.PermissionDenied(f"Unknown tenant '{wanted}'.", details={"tenant": wanted})
        return tenant

    # One query serves both the tenant choice and the per-request role cache (ocx.core.access.role_in);
    # token authentication has usually read the memberships already (ocx.core.api.authentication).
    memberships = getattr(user, "_ocx_memberships", None)
    if memberships is None:
        memberships = list(active_memberships(user=user))
    if getattr(user, "_ocx_roles", None) is None:
        user._ocx_roles = {m.tenant_id: m.role for m in memberships}
    if wanted:
        membership = next((m for m in memberships if m.tenant.slug == wanted), None)
        if membership is None:
            raise errors.PermissionDenied(f"You are not a member of tenant '{wanted}'.", details={"tenant": wanted})
        return membership.tenant
    if memberships:
        return memberships[0].tenant
    if user.is_superuser:
        tenant = Tenant.objects.filter(is_active=True).order_by("id").first()
        if tenant is not None:
            return tenant
    raise errors.PermissionDenied("You are not a member of any tenant.")


def active_memberships(**user_filter):
    """Memberships in active tenants, oldest first (the first is a user's default tenant), with
    their tenant; ``user_filter`` selects whose (``user=u``, ``user__auth_token__key=k``, …)."""
    from ocx.core.models import Membership

    return (
        Membership.objects.filter(tenant__is_active=True, **user_filter)
        .select_related("tenant")
        .order_by("created_at", "id")
    )


def resolve_request_tenant(request):
    return resolve_tenant(request.user, request.META.get(TENANT_HEADER))


def tenant_for_user(user, slug: str | None):
    """Resolve a client-supplied ``tenant_id`` (slug) against the user's memberships."""
    if not slug:
        return None
    try:
        return resolve_tenant(user, slug)
    except errors.PermissionDenied as exc:
        raise errors.PermissionDenied(exc.message, details={"tenant_id": slug}) from exc
