"""Workspaces, their members and the work units delegated to them.

Who may do what: creating a workspace needs the tenant permission MANAGE_WORKSPACE (its creator
becomes its owner); changing one — details, members, work units — needs MANAGE_WORKSPACE or the
workspace role owner or admin; only an owner (or a tenant manager) grants, changes or removes the
owner role, and archives it. A workspace always keeps at least one owner. Members are users of
the workspace's tenant only. Every write publishes ``runs.workspace.<verb>``.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from activity_feed.services import publish
from ocx.core import errors
from ocx.core.access import Perm, has_perm
from ocx.core.locks import lock_get_or_404, lock_rows
from ocx.core.models import Membership
from ocx.core.services import service
from registry import selectors as registry_selectors
from runs import selectors
from runs.constraints import MEMBER_CONSTRAINTS_SCHEMA, WORK_UNIT_CONSTRAINTS_SCHEMA, validate_constraints
from runs.models import MANAGING_ROLES, Workspace, WorkspaceMember, WorkspaceRole, WorkspaceWorkUnit, WorkUnitType
from runs.services.composite import resolve_unit

_UNSET = object()


def _publish(workspace: Workspace, verb: str, *, actor, title: str, **payload):
    return publish(
        tenant=workspace.tenant_id,
        type=f"runs.workspace.{verb}",
        title=title,
        entity_type="workspace",
        entity_id=workspace.pk,
        source_system="runs",
        source_object_type="workspace",
        source_object_id=str(payload.pop("source_object_id", workspace.pk)),
        payload={"workspace_id": str(workspace.pk), "name": workspace.name, **payload},
        actor=actor,
        tags=["runs", "workspace"],
        correlation_id=f"workspace:{workspace.pk}",
    )


def _role_of(workspace: Workspace, user) -> str | None:
    row = WorkspaceMember.objects.for_tenant(workspace.tenant_id).filter(workspace=workspace, user=user).first()
    return row.role if row else None


def _require_manager(workspace: Workspace, actor, *, owner: bool = False) -> None:
    """MANAGE_WORKSPACE in the tenant, or the workspace role owner (``owner``) / owner or admin."""
    if has_perm(actor, workspace.tenant_id, Perm.MANAGE_WORKSPACE):
        return
    role = _role_of(workspace, actor)
    allowed = (WorkspaceRole.OWNER,) if owner else MANAGING_ROLES
    if role not in allowed:
        raise errors.PermissionDenied(
            "Only a workspace " + ("owner" if owner else "owner or admin") + " (or a tenant admin) may do this.",
            details={"workspace_id": str(workspace.pk), "role": role},
        )


def _locked(tenant, workspace_id) -> Workspace:
    workspace = lock_get_or_404(Workspace.objects.for_tenant(tenant), "Workspace", pk=workspace_id)
    return workspace


def _live(workspace: Workspace) -> Workspace:
    if workspace.is_archived:
        raise errors.Conflict("This workspace is archived.", details={"workspace_id": str(workspace.pk)})
    return workspace


def _name_taken(name: str):
    return errors.Conflict(f"A workspace named {name!r} already exists.", details={"name": name})


def _save_unique(obj, conflict: errors.Conflict, **save_kwargs) -> None:
    """Save ``obj`` in a savepoint; a unique constraint refusing the row raises ``conflict``."""
    try:
        with transaction.atomic():
            obj.save(**save_kwargs)
    except IntegrityError:
        raise conflict from None


# --- workspaces -------------------------------------------------------------------------------
@service
def workspace_create(*, tenant, actor, name: str, description: str = "") -> Workspace:
    """Create a workspace; its creator is its first owner."""
    if not has_perm(actor, tenant, Perm.MANAGE_WORKSPACE):
        raise errors.PermissionDenied(details={"required_permission": Perm.MANAGE_WORKSPACE})
    name = (name or "").strip()
    if not name:
        raise errors.ValidationError("A workspace needs a name.", details={"name": ["This field is required."]})
    workspace = Workspace(tenant_id=getattr(tenant, "pk", tenant), name=name, description=description, created_by=actor)
    _save_unique(workspace, _name_taken(name))
    WorkspaceMember.objects.create(
        tenant_id=workspace.tenant_id, workspace=workspace, user=actor, role=WorkspaceRole.OWNER, invited_by=actor
    )
    _publish(workspace, "created", actor=actor, title=f"Workspace {name} created", description=description)
    return workspace


@service
def workspace_update(*, tenant, actor, workspace_id, name=None, description=None) -> Workspace:
    """Rename a live workspace or change its description."""
    workspace = _live(_locked(tenant, workspace_id))
    _require_manager(workspace, actor)
    fields = []
    if name is not None and name.strip() and name.strip() != workspace.name:
        workspace.name = name.strip()
        fields.append("name")
    if description is not None and description != workspace.description:
        workspace.description = description
        fields.append("description")
    if not fields:
        return workspace
    _save_unique(workspace, _name_taken(workspace.name), update_fields=[*fields, "updated_at"])
    _publish(workspace, "updated", actor=actor, title=f"Workspace {workspace.name} updated", changed=fields)
    return workspace


@service
def workspace_archive(*, tenant, actor, workspace_id, reason: str = "") -> Workspace:
    """Archive a workspace: it stays readable with its runs, but no run starts in it and it
    cannot change any more. Archiving an archived workspace changes nothing."""
    workspace = _locked(tenant, workspace_id)
    _require_manager(workspace, actor, owner=True)
    if workspace.is_archived:
        return workspace
    workspace.archived_at = timezone.now()
    workspace._change_reason = reason or "archived"
    workspace.save(update_fields=["archived_at", "updated_at"])
    _publish(workspace, "archived", actor=actor, title=f"Workspace {workspace.name} archived", reason=reason)
    return workspace


# --- members ----------------------------------------------------------------------------------
def resolve_user(*, tenant, user_id):
    """A user of ``tenant`` by id (digits) or username; 404 for anybody else, whoever they are."""
    User = get_user_model()
    value = str(user_id).strip()
    lookup = {"pk": int(value)} if value.isdigit() else {"username": value}
    user = User.objects.filter(is_active=True, **lookup).first()
    tenant_id = getattr(tenant, "pk", tenant)
    if user is None or not Membership.objects.filter(user=user, tenant_id=tenant_id).exists():
        raise errors.NotFound("User not found in this tenant.", details={"user_id": value})
    return user


def _check_role(role: str) -> str:
    if role not in WorkspaceRole.values:
        raise errors.ValidationError(
            "role must be owner, admin, member or viewer.", details={"role": role, "allowed": WorkspaceRole.values}
        )
    return role


def _owners(workspace: Workspace) -> list[WorkspaceMember]:
    """The workspace's owners, locked (so two demotions at once cannot both leave none)."""
    return lock_rows(
        WorkspaceMember.objects.for_tenant(workspace.tenant_id).filter(workspace=workspace, role=WorkspaceRole.OWNER)
    )


@service
def member_add(
    *, tenant, actor, workspace_id, user_id, role: str = WorkspaceRole.MEMBER, constraints=None, department: str = ""
) -> WorkspaceMember:
    """Add a user of the tenant to a workspace with a role (and optional constraints)."""
    workspace = _live(_locked(tenant, workspace_id))
    _check_role(role)
    _require_manager(workspace, actor, owner=role == WorkspaceRole.OWNER)
    constraints = validate_constraints(constraints, schema=MEMBER_CONSTRAINTS_SCHEMA)
    user = resolve_user(tenant=tenant, user_id=user_id)
    member = WorkspaceMember(
        tenant_id=workspace.tenant_id,
        workspace=workspace,
        user=user,
        role=role,
        constraints=constraints,
        invited_by=actor,
        department=department,
    )
    _save_unique(
        member,
        errors.Conflict(f"{user.get_username()} is already a member of this workspace.", details={"user_id": user.pk}),
    )
    _publish(workspace, "member_added", actor=actor, title=f"{user.get_username()} joined {workspace.name} as {role}",
             source_object_id=member.pk, user_id=user.pk, username=user.get_username(), role=role)  # fmt: skip
    return member


def _member(workspace: Workspace, user_id) -> WorkspaceMember:
    user = resolve_user(tenant=workspace.tenant_id, user_id=user_id)
    return lock_get_or_404(
        WorkspaceMember.objects.for_tenant(workspace.tenant_id).select_related("user"),
        "Workspace member",
        workspace=workspace,
        user=user,
    )


@service
def member_update(
    *, tenant, actor, workspace_id, user_id, role=None, constraints=_UNSET, department=None
) -> WorkspaceMember:
    """Change a member's role, constraints or department; the last owner cannot be demoted."""
    workspace = _live(_locked(tenant, workspace_id))
    if role is not None:
        _check_role(role)
    owners = _owners(workspace)
    member = _member(workspace, user_id)
    touches_owner = WorkspaceRole.OWNER in (role, member.role) and role is not None and role != member.role
    _require_manager(workspace, actor, owner=touches_owner)
    fields = []
    if role is not None and role != member.role:
        if member.role == WorkspaceRole.OWNER and len(owners) <= 1:
            raise errors.Conflict(
                "The last owner of a workspace cannot be demoted: make someone else owner first.",
                details={"user_id": member.user_id},
            )
        member.role = role
        fields.append("role")
    if constraints is not _UNSET:
        member.constraints = validate_constraints(constraints, schema=MEMBER_CONSTRAINTS_SCHEMA)
        fields.append("constraints")
    if department is not None and department != member.department:
        member.department = department
        fields.append("department")
    if not fields:
        return member
    member.save(update_fields=[*fields, "updated_at"])
    _publish(workspace, "member_updated", actor=actor, title=f"{member.user.get_username()} in {workspace.name} updated",
             source_object_id=member.pk, user_id=member.user_id, role=member.role, changed=fields)  # fmt: skip
    return member


@service
def member_remove(*, tenant, actor, workspace_id, user_id) -> None:
    """Remove a member; the last owner cannot be removed."""
    workspace = _live(_locked(tenant, workspace_id))
    owners = _owners(workspace)
    member = _member(workspace, user_id)
    _require_manager(workspace, actor, owner=member.role == WorkspaceRole.OWNER)
    if member.role == WorkspaceRole.OWNER and len(owners) <= 1:
        raise errors.Conflict(
            "The last owner of a workspace cannot be removed: make someone else owner first.",
            details={"user_id": member.user_id},
        )
    username, member_pk, role = member.user.get_username(), member.pk, member.role
    member.delete()
    _publish(workspace, "member_removed", actor=actor, title=f"{username} left {workspace.name}",
             source_object_id=member_pk, user_id=int(member.user_id), username=username, role=role)  # fmt: skip


# --- work units -------------------------------------------------------------------------------
@service
def work_unit_add(
    *,
    tenant,
    actor,
    workspace_id,
    work_unit_id: str,
    work_unit_type: str = WorkUnitType.ATOMIC,
    delegation_id: str = "",
    constraints=None,
    department: str = "",
) -> WorkspaceWorkUnit:
    """Delegate a work unit to a workspace: an atomic one (a registry activity of the tenant, by
    UUID or name) or a composite one (a workflow template, by id or name)."""
    workspace = _live(_locked(tenant, workspace_id))
    _require_manager(workspace, actor)
    if work_unit_type not in (WorkUnitType.ATOMIC, WorkUnitType.COMPOSITE):
        raise errors.ValidationError(
            "work_unit_type must be atomic or composite.", details={"work_unit_type": work_unit_type}
        )
    constraints = validate_constraints(constraints, schema=WORK_UNIT_CONSTRAINTS_SCHEMA)
    if work_unit_type == WorkUnitType.COMPOSITE:
        name = resolve_unit(tenant=tenant, ref=work_unit_id).name
    else:
        activity = registry_selectors.activity_for_work_unit(tenant=tenant, work_unit=work_unit_id)
        if activity is None:
            raise errors.NotFound(
                f"Work unit {work_unit_id!r} not found: no registry activity has this id or name.",
                details={"work_unit_id": work_unit_id},
            )
        name = activity.name
    unit = WorkspaceWorkUnit(
        tenant_id=workspace.tenant_id,
        workspace=workspace,
        work_unit_id=name,
        work_unit_type=work_unit_type,
        work_unit_name=name,
        delegation_id=delegation_id,
        constraints=constraints,
        added_by=actor,
        department=department,
    )
    _save_unique(
        unit,
        errors.Conflict(f"{name} is already a work unit of this workspace.", details={"work_unit_id": name}),
    )
    _publish(workspace, "work_unit_added", actor=actor, title=f"{name} delegated to {workspace.name}",
             source_object_id=unit.pk, work_unit_id=unit.work_unit_id, work_unit_type=unit.work_unit_type,
             delegation_id=delegation_id or None)  # fmt: skip
    return unit


@service
def work_unit_remove(*, tenant, actor, workspace_id, work_unit_id: str) -> None:
    """Take a work unit away from a workspace (its past runs stay)."""
    workspace = _live(_locked(tenant, workspace_id))
    _require_manager(workspace, actor)
    key = selectors.work_unit_key(tenant=tenant, work_unit=work_unit_id, strict=False)
    unit = lock_get_or_404(
        WorkspaceWorkUnit.objects.for_tenant(workspace.tenant_id),
        "Workspace work unit",
        workspace=workspace,
        work_unit_id=key,
    )
    unit_pk = unit.pk
    unit.delete()
    _publish(workspace, "work_unit_removed", actor=actor, title=f"{key} removed from {workspace.name}",
             source_object_id=unit_pk, work_unit_id=key)  # fmt: skip
