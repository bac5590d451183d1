"""Starting a run of a work unit, and cancelling one."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from ocx.core import errors
from ocx.core.access import Perm, has_perm
from ocx.core.db import get_or_404
from ocx.core.locks import lock_get_or_404
from ocx.core.models import Tenant
from ocx.core.services import service
from registry import selectors as registry_selectors
from runs import handlers
from runs.constraints import check_run_allowed
from runs.models import RUNNING_ROLES, Execution, Run, RunStatus, WorkspaceMember, WorkspaceRole, WorkUnitType
from runs.selectors import is_uuid
from runs.services import counters
from runs.services.common import (
    check_size,
    deadline_after,
    dispatch_on_commit,
    may_cancel,
    move_run,
    new_token,
    publish_run_event,
    record_execution,
    require,
    revoke_on_commit,
)
from runs.services.composite import (
    cancel_composite,
    composite_executor,
    resolve_unit,
    start_composite,
)

ENVIRONMENTS = ("DEV", "STAGING", "PROD")


def _same_request(run: Run, *, work_unit_id: str, input) -> bool:
    # A composite run keeps its template's name, not the id it may have been asked by.
    same_unit = work_unit_id in (run.work_unit_id, str(run.activity_id)) or run.work_unit_type == WorkUnitType.COMPOSITE
    return same_unit and run.input == input


def _resolve(*, tenant, work_unit_id: str, work_unit_type: str | None, environment: str):
    """``(deployment, None)`` for an atomic work unit: its live deployment, with the activity
    version it runs; ``(None, unit)`` for a composite one. ``work_unit_type`` None: atomic when
    a registry activity has this id or name, else composite when the workflow engine knows it.
    404 for no such work unit, 409 when the activity is not live there."""
    if work_unit_type == WorkUnitType.COMPOSITE:
        return None, resolve_unit(tenant=tenant, ref=work_unit_id)
    if not is_uuid(work_unit_id):
        # The common case in one query: the tenant's own activity, live in this environment.
        deployment = registry_selectors.own_live_deployment(tenant=tenant, name=work_unit_id, environment=environment)
        if deployment is not None and deployment.activity.status == "ACTIVE":
            return deployment, None
    activity = registry_selectors.activity_for_work_unit(tenant=tenant, work_unit=work_unit_id)
    if activity is None:
        executor = composite_executor() if work_unit_type is None else None
        unit = executor.resolve(tenant=tenant, ref=work_unit_id) if executor is not None else None
        if unit is not None:
            return None, unit
        raise errors.NotFound(
            f"Work unit {work_unit_id!r} not found: no registry activity has this id or name.",
            details={"work_unit_id": work_unit_id},
        )
    return _live(tenant=tenant, activity=activity, environment=environment), None


def _live(*, tenant, activity, environment: str):
    deployment = registry_selectors.live_deployment_for(tenant=tenant, activity=activity, environment=environment)
    if deployment is None or deployment.activity.status != "ACTIVE":
        state = {"SUSPENDED": "is suspended", "RETIRED": "is retired"}.get(
            activity.status, f"has no active deployment in {environment} for this tenant"
        )
        raise errors.Conflict(
            f"{activity.name} cannot be run: it {state} (latest version {activity.version} is {activity.status}).",
            details={
                "work_unit_id": activity.name,
                "environment": environment,
                "activity_id": str(activity.pk),
                "activity_status": activity.status,
            },
        )
    return deployment


def _workspace_check(*, tenant, actor, workspace_id, work_unit_id: str, request: dict):
    """The workspace a run is started in: live, the work unit delegated to it, the actor a member
    who may run (a viewer may not; a tenant manager may), within both constraint sets."""
    from runs.models import Workspace, WorkspaceWorkUnit

    workspace = get_or_404(Workspace.objects.for_tenant(tenant), "Workspace", pk=workspace_id)
    if workspace.is_archived:
        raise errors.Conflict("This workspace is archived.", details={"workspace_id": str(workspace.pk)})
    unit = WorkspaceWorkUnit.objects.for_tenant(tenant).filter(workspace=workspace, work_unit_id=work_unit_id).first()
    if unit is None:
        raise errors.ValidationError(
            f"{work_unit_id} is not a work unit of workspace {workspace.name}.",
            details={"workspace_id": str(workspace.pk), "work_unit_id": work_unit_id},
        )
    member = WorkspaceMember.objects.for_tenant(tenant).filter(workspace=workspace, user=actor).first()
    if member is None:
        if not has_perm(actor, tenant, Perm.MANAGE_WORKSPACE):
            raise errors.PermissionDenied(
                "You are not a member of this workspace.", details={"workspace_id": str(workspace.pk)}
            )
        role, member_constraints = WorkspaceRole.ADMIN, None
    else:
        role, member_constraints = member.role, member.constraints
    if role not in RUNNING_ROLES:
        raise errors.PermissionDenied(
            "Workspace viewers cannot run its work units.", details={"workspace_id": str(workspace.pk), "role": role}
        )
    check_run_allowed(
        member_role=role, member_constraints=member_constraints, unit_constraints=unit.constraints, request=request
    )
    return workspace


@service
def run_create(
    *,
    tenant,
    actor,
    work_unit_id: str,
    input=None,
    work_unit_type: str | None = None,
    environment: str = "PROD",
    execution: str | None = None,
    priority: int = 0,
    idempotency_key: str = "",
    workspace_id=None,
    max_attempts: int | None = None,
    schedule_to_start_timeout: int | None = None,
    start_to_close_timeout: int | None = None,
) -> tuple[Run, bool]:
    """Start a run of a live work unit. An atomic one (a registry activity) is ``pending``, queued
    for its in-process handler or offered to agents, and records the activity version and
    deployment live now; a composite one (a workflow template) is ``running`` at once, its
    workflow instance started. ``work_unit_type`` None: atomic if a registry activity has this id
    or name, else composite. A repeated ``idempotency_key`` returns the first run (``created``
    False)."""
    require(actor, tenant, Perm.RUN_WORK_UNIT)
    if work_unit_type not in (None, WorkUnitType.ATOMIC, WorkUnitType.COMPOSITE):
        raise errors.ValidationError(
            "work_unit_type must be atomic or composite.", details={"work_unit_type": work_unit_type}
        )
    if environment not in ENVIRONMENTS:
        raise errors.ValidationError("environment must be DEV, STAGING or PROD.", details={"environment": environment})
    check_size(input, field="input")
    idempotency_key = (idempotency_key or "").strip()
    if idempotency_key:
        first = Run.objects.for_tenant(tenant).filter(idempotency_key=idempotency_key).first()
        if first is not None:
            return _replayed(first, work_unit_id=work_unit_id, input=input), False

    deployment, unit = _resolve(
        tenant=tenant, work_unit_id=work_unit_id, work_unit_type=work_unit_type, environment=environment
    )
    if unit is not None:
        if execution not in (None, Execution.WORKFLOW):
            raise errors.ValidationError(
                "A composite work unit runs in the workflow engine: execution must be omitted or workflow.",
                details={"execution": execution, "work_unit_id": unit.name},
            )
        activity, name, execution = None, unit.name, Execution.WORKFLOW
    else:
        activity = deployment.activity
        name = activity.name
        has_handler = handlers.handler_for(name) is not None
        execution = execution or (Execution.IN_PROCESS if has_handler else Execution.AGENT)
        if execution == Execution.WORKFLOW:
            raise errors.ValidationError(
                f"{name} is an atomic work unit: execution workflow is for composite work units.",
                details={"execution": execution, "work_unit_id": name},
            )
        if execution == Execution.IN_PROCESS and not has_handler:
            raise errors.ValidationError(
                f"No in-process handler is registered for {name}: run it with execution=agent.",
                details={"execution": execution, "work_unit_id": name},
            )
    workspace = None
    if workspace_id:
        workspace = _workspace_check(
            tenant=tenant,
            actor=actor,
            workspace_id=workspace_id,
            work_unit_id=name,
            request={"work_unit_id": name, "environment": environment, "priority": priority, "input": input},
        )

    now = timezone.now()
    s2s = (
        settings.OCX_RUNS_SCHEDULE_TO_START_SECONDS if schedule_to_start_timeout is None else schedule_to_start_timeout
    )
    run = Run(
        tenant_id=getattr(tenant, "pk", tenant),
        work_unit_id=name,
        work_unit_type=WorkUnitType.ATOMIC if unit is None else WorkUnitType.COMPOSITE,
        work_unit_name=name,
        activity=activity,
        activity_version=activity.version if unit is None else str(unit.version),
        deployment=deployment,
        environment=environment,
        workspace=workspace,
        user=actor,
        user_name=actor.get_username(),
        input=input,
        execution=execution,
        priority=priority,
        idempotency_key=idempotency_key,
        max_attempts=max_attempts or settings.OCX_RUNS_MAX_ATTEMPTS,
        available_at=now,
        schedule_to_start_timeout=s2s or None,
        start_to_close_timeout=start_to_close_timeout or settings.OCX_RUNS_START_TO_CLOSE_SECONDS,
        deadline=deadline_after(now, s2s),
        celery_task_id=str(new_token()) if execution == Execution.IN_PROCESS else "",
    )
    if isinstance(tenant, Tenant):
        run.tenant = tenant  # the events' live push names the tenant: spare the commit hook a query
    try:
        # Only a key can clash: without one, no savepoint (two round trips of every create).
        with transaction.atomic(savepoint=bool(idempotency_key)):
            run.save()
    except IntegrityError:
        # A concurrent request with the same idempotency key committed first: answer with its run.
        first = (
            Run.objects.for_tenant(tenant).filter(idempotency_key=idempotency_key).first() if idempotency_key else None
        )
        if first is None:
            raise
        return _replayed(first, work_unit_id=work_unit_id, input=input), False
    publish_run_event(run, "created", actor=actor)
    counters.created([run])
    if unit is not None:
        start_composite(run, unit=unit, actor=actor)
    else:
        dispatch_on_commit([run])
    return run, True


def _replayed(first: Run, *, work_unit_id: str, input) -> Run:
    if not _same_request(first, work_unit_id=work_unit_id, input=input):
        raise errors.Conflict(
            "This idempotency_key was already used for a different request (work unit or input).",
            details={"idempotency_key": first.idempotency_key, "run_id": str(first.pk)},
        )
    return first


@service
def run_cancel(*, tenant, actor, run_id, reason: str = "") -> Run:
    """Cancel a run: a pending one at once; a running one is asked to stop (``cancel_requested``)
    and ends ``cancelled`` when its executor acknowledges — its next report — or its lease runs
    out. Cancelling a cancelled run changes nothing; a finished one cannot be cancelled."""
    run = lock_get_or_404(Run.objects.for_tenant(tenant), "Run", pk=run_id)
    if not may_cancel(actor, run):
        raise errors.PermissionDenied(
            "Only who started the run, or a tenant admin, may cancel it.", details={"run_id": str(run.pk)}
        )
    if run.status == RunStatus.CANCELLED or (run.status == RunStatus.RUNNING and run.cancel_requested):
        return run
    now = timezone.now()
    if run.status == RunStatus.RUNNING and run.execution == Execution.WORKFLOW:
        return cancel_composite(run, actor=actor, reason=reason)
    if run.status == RunStatus.RUNNING:
        run.cancel_requested = True
        run._change_reason = reason or "cancel requested"
        run.save(update_fields=["cancel_requested", "updated_at"])
        publish_run_event(run, "cancel_requested", actor=actor, reason=reason)
        revoke_on_commit(run, running=run.execution == Execution.IN_PROCESS)
        return run
    move_run(
        run,
        actor=actor,
        source=RunStatus.PENDING,
        target=RunStatus.CANCELLED,
        reason=reason or "cancelled",
        arguments={"at": now},
        update_fields=[
            "cancel_requested",
            "error_type",
            "lease_token",
            "lease_expires_at",
            "completed_at",
            "duration_ms",
            "updated_at",
        ],  # fmt: skip
        verb="cancelled",
        event={"reason": reason},
    )
    revoke_on_commit(run)
    return run


def finish_cancelled(run: Run, *, actor, at, reason: str, output=None, error: str = "") -> Run:
    """End a running run whose cancellation was requested, now that its executor reported (the
    report acknowledges the cancellation: what it said is kept on the run, but the run is
    cancelled). Records the execution (it started) as a failure."""
    if output is not None:
        run.output = output
    if error:
        run.error = error
    run.execution_id = record_execution(run, outcome="FAILURE", at=at, actor=actor) or run.execution_id
    move_run(
        run,
        actor=actor,
        source=RunStatus.RUNNING,
        target=RunStatus.CANCELLED,
        reason=reason,
        arguments={"at": at},
        update_fields=[
            "output",
            "error",
            "error_type",
            "execution_id",
            "cancel_requested",
            "lease_token",
            "lease_expires_at",
            "completed_at",
            "duration_ms",
            "updated_at",
        ],  # fmt: skip
        verb="cancelled",
        event={"reason": reason},
    )
    return run


def lease_until(run: Run, *, now, lease_seconds: int):
    """A lease of ``lease_seconds`` from now, never past the attempt's start-to-close limit."""
    limit = (run.started_at or now) + timedelta(seconds=run.start_to_close_timeout)
    return min(now + timedelta(seconds=lease_seconds), max(limit, now))
