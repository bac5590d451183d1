"""Roles and the seed-named permissions they grant, per tenant.

A permission is held *in a tenant*: a user who is admin of acme-corp and viewer of globex may
manage SLAs in one and only read in the other. ``TenantRoleBackend`` plugs this into Django's
``user.has_perm("ocx.MANAGE_SLA", obj)`` where ``obj`` is a Tenant or any row with a tenant.
"""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    APPROVER_TECHNICAL = "approver_technical", "Technical approver"
    APPROVER_BUSINESS = "approver_business", "Business approver"
    APPROVER_COMPLIANCE = "approver_compliance", "Compliance approver"
    APPROVER_SECURITY = "approver_security", "Security approver"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"


class Perm:
    """Permission codenames, as the seeds name them (app label ``ocx``)."""

    CREATE_TASK = "CREATE_TASK"
    UPDATE_TASK = "UPDATE_TASK"
    CREATE_ACTION_PLAN = "CREATE_ACTION_PLAN"
    ACTIVATE_ACTION_PLAN = "ACTIVATE_ACTION_PLAN"
    MANAGE_SLA = "MANAGE_SLA"
    VIEW_WORKFLOW_STATS = "VIEW_WORKFLOW_STATS"
    CREATE_ACTIVITY = "CREATE_ACTIVITY"
    REQUEST_APPROVAL = "REQUEST_APPROVAL"
    APPROVE_TECHNICAL = "APPROVE_TECHNICAL"
    APPROVE_BUSINESS = "APPROVE_BUSINESS"
    APPROVE_COMPLIANCE = "APPROVE_COMPLIANCE"
    APPROVE_SECURITY = "APPROVE_SECURITY"
    DEPLOY_ACTIVITY = "DEPLOY_ACTIVITY"
    SUSPEND_ACTIVITY = "SUSPEND_ACTIVITY"
    RECORD_EXECUTION = "RECORD_EXECUTION"
    CREATE_EVENT = "CREATE_EVENT"
    MANAGE_INGESTION = "MANAGE_INGESTION"
    MANAGE_WORKSPACE = "MANAGE_WORKSPACE"
    RUN_WORK_UNIT = "RUN_WORK_UNIT"
    MANAGE_TENANT = "MANAGE_TENANT"


_MEMBER = {
    Perm.CREATE_TASK,
    Perm.UPDATE_TASK,
    Perm.CREATE_ACTION_PLAN,
    Perm.CREATE_ACTIVITY,
    Perm.REQUEST_APPROVAL,
    Perm.RECORD_EXECUTION,
    Perm.CREATE_EVENT,
    Perm.RUN_WORK_UNIT,
}
_ADMIN = _MEMBER | {
    Perm.ACTIVATE_ACTION_PLAN,
    Perm.MANAGE_SLA,
    Perm.VIEW_WORKFLOW_STATS,
    Perm.DEPLOY_ACTIVITY,
    Perm.SUSPEND_ACTIVITY,
    Perm.MANAGE_INGESTION,
    Perm.MANAGE_WORKSPACE,
    Perm.MANAGE_TENANT,
}

# Admins do not approve by default: approval types need their approver role (separation of
# duties). Owners hold everything.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset(
        _ADMIN | {Perm.APPROVE_TECHNICAL, Perm.APPROVE_BUSINESS, Perm.APPROVE_COMPLIANCE, Perm.APPROVE_SECURITY}
    ),
    Role.ADMIN: frozenset(_ADMIN),
    Role.APPROVER_TECHNICAL: frozenset(_MEMBER | {Perm.APPROVE_TECHNICAL}),
    Role.APPROVER_BUSINESS: frozenset(_MEMBER | {Perm.APPROVE_BUSINESS}),
    Role.APPROVER_COMPLIANCE: frozenset(_MEMBER | {Perm.APPROVE_COMPLIANCE}),
    Role.APPROVER_SECURITY: frozenset(_MEMBER | {Perm.APPROVE_SECURITY}),
    Role.MEMBER: frozenset(_MEMBER),
    Role.VIEWER: frozenset(),
}

ADMIN_ROLES = frozenset({Role.OWNER, Role.ADMIN})


def approve_perm_for(approval_type: str) -> str:
    """The permission that lets a user decide an approval of this type (TECHNICAL, …)."""
    return f"APPROVE_{approval_type.upper()}"


def _tenant_id_of(obj) -> int | None:
    from ocx.core.models import Tenant

    if obj is None:
        return None
    if isinstance(obj, int):
        return obj
    if isinstance(obj, Tenant):
        return obj.pk
    return getattr(obj, "tenant_id", None)


def role_in(user, tenant) -> str | None:
    """The user's role in the tenant, or None. Cached per user object for the request."""
    tenant_id = _tenant_id_of(tenant)
    if tenant_id is None or not getattr(user, "is_authenticated", False):
        return None
    cache = getattr(user, "_ocx_roles", None)
    if cache is None:
        cache = dict(user.memberships.values_list("tenant_id", "role"))
        user._ocx_roles = cache
    return cache.get(tenant_id)


def has_perm(user, tenant, perm: str) -> bool:
    """True when ``user`` holds ``perm`` (a bare codename) in ``tenant``."""
    if not getattr(user, "is_active", False):
        return False
    if user.is_superuser:
        return True
    role = role_in(user, tenant)
    return role is not None and perm in ROLE_PERMISSIONS.get(role, frozenset())


def is_tenant_admin(user, tenant) -> bool:
    return bool(user.is_superuser) or role_in(user, tenant) in ADMIN_ROLES


class TenantRoleBackend:
    """Django auth backend answering ``user.has_perm("ocx.<CODE>", obj)`` from memberships."""

    def authenticate(self, request, **credentials):
        return None

    def has_perm(self, user_obj, perm: str, obj=None) -> bool:
        if obj is None or "." not in perm:
            return False
        app_label, codename = perm.split(".", 1)
        if app_label != "ocx":
            return False
        return has_perm(user_obj, obj, codename)

    def get_user(self, user_id):
        return None
