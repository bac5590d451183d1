"""Helpers shared by the runs services: permission checks, the run event, the registry
execution a finished run records, and the work queued once a transaction commits."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from activity_feed.services import Draft, publish
from ocx.core import errors
from ocx.core.access import Perm, has_perm
from ocx.core.fsm import fsm_transition
from runs import wakeup
from runs.constraints import input_bytes
from runs.models import Execution, Run, RunStatus, WorkUnitType
from runs.services import counters

logger = logging.getLogger(__name__)
ENTITY = "run"
#: ``runs.run.<verb>`` events: one per transition (``requeued``: back to pending for another attempt).
RUN_EVENT_VERBS = ("created", "started", "completed", "failed", "cancelled", "requeued", "cancel_requested")
PRIORITY_OF = {"failed": "high", "cancelled": "normal", "requeued": "normal", "cancel_requested": "normal"}
TITLE_VERB = {
    "created": "requested",
    "started": "started",
    "completed": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
    "requeued": "re-offered",
    "cancel_requested": "cancellation requested",
}


def require(actor, tenant, perm: str) -> None:
    """PERMISSION_DENIED unless ``actor`` holds ``perm`` in ``tenant``; ``actor`` None is the system."""
    if actor is not None and not has_perm(actor, tenant, perm):
        raise errors.PermissionDenied(details={"required_permission": perm})


def may_cancel(actor, run: Run) -> bool:
    """Who started the run (still allowed to run work units), or a tenant manager; the system."""
    if actor is None:
        return True
    if has_perm(actor, run.tenant_id, Perm.MANAGE_WORKSPACE):
        return True
    return actor.pk == run.user_id and has_perm(actor, run.tenant_id, Perm.RUN_WORK_UNIT)


def check_size(value, *, field: str) -> None:
    limit = settings.OCX_RUNS_MAX_INPUT_BYTES
    if value is not None and input_bytes(value) > limit:
        raise errors.PayloadTooLarge(
            f"{field} is larger than {limit} bytes.", details={"field": field, "max_bytes": limit}
        )


def backoff_seconds(attempt: int) -> int:
    """Exponential backoff before attempt ``attempt + 1``: base, 2×base, 4×base … (at most 1 h)."""
    return min(3600, settings.OCX_RUNS_RETRY_BACKOFF_SECONDS * 2 ** max(attempt - 1, 0))


def new_token() -> uuid.UUID:
    return uuid.uuid4()


# --- events -----------------------------------------------------------------------------------
def run_payload(run: Run, *, run_id: str | None = None, **extra) -> dict:
    return {
        "run_id": run_id or str(run.pk),
        "status": run.status,
        "work_unit_id": run.work_unit_id,
        "work_unit_type": run.work_unit_type,
        "work_unit_name": run.work_unit_name,
        "activity_id": str(run.activity_id) if run.activity_id else None,
        "activity_version": run.activity_version,
        "deployment_id": str(run.deployment_id) if run.deployment_id else None,
        "environment": run.environment,
        "execution": run.execution,
        "workspace_id": str(run.workspace_id) if run.workspace_id else None,
        "user_id": run.user_id,
        "user_name": run.user_name,
        "attempt": run.attempt,
        "max_attempts": run.max_attempts,
        "worker_id": run.worker_id or None,
        "error_type": run.error_type or None,
        "duration_ms": run.duration_ms,
        **extra,
    }


def _event_fields(run: Run, verb: str, extra: dict) -> dict:
    run_id = str(run.pk)
    return {
        "type": f"runs.run.{verb}",
        "title": f"{run.work_unit_name} run {TITLE_VERB.get(verb, verb)}",
        "description": run.error if verb == "failed" else "",
        "source": "internal",
        "source_system": "runs",
        "source_object_type": "run",
        "source_object_id": run_id,
        "entity_type": ENTITY,
        "entity_id": run_id,
        "priority": PRIORITY_OF.get(verb, "low" if verb in ("started", "completed") else "normal"),
        "payload": run_payload(run, run_id=run_id, **extra),
        "tags": ["runs", run.work_unit_id, run.execution],
        "correlation_id": f"run:{run_id}",
        # One event per transition of an attempt, even if a service is retried.
        "idempotency_key": f"runs:run:{run_id}:{verb}:{run.attempt}",
    }


def publish_run_event(run: Run, verb: str, *, actor, **extra):
    """``runs.run.<verb>`` about the run, in the caller's transaction."""
    # The tenant row when the run holds it: the live push after commit then needs no query.
    tenant = run.tenant if Run.tenant.is_cached(run) else run.tenant_id
    return publish(tenant=tenant, actor=actor, **_event_fields(run, verb, extra))


def run_draft(run: Run, verb: str, *, user_name: str = "", **extra) -> Draft:
    """The same event as a draft, for the set-based paths (claims, the sweep) to store in bulk."""
    return Draft(user_name=user_name, **_event_fields(run, verb, extra))


def run_publisher(verb: str, *, actor, **extra):
    """A ``publish`` callback for ``ocx.core.fsm.fsm_transition``."""

    def publish_it(instance, edge, source):
        return publish_run_event(instance, verb, actor=actor, from_status=source, **extra)

    return publish_it


# What a start (pending → running) writes, whoever starts the run.
STARTED_FIELDS = (
    "attempt", "started_at", "worker_id", "lease_token", "lease_expires_at", "lease_seconds", "heartbeat_at",
    "updated_at",
)  # fmt: skip


def move_run(
    run: Run,
    *,
    actor,
    source: str,
    target: str,
    reason: str,
    arguments: dict,
    update_fields,
    verb: str,
    event: dict | None = None,
) -> None:
    """Move one run (locked by the caller) from ``source`` to ``target`` along its diagram,
    publish ``runs.run.<verb>`` (with ``event`` in its payload) and shift the hour's counters."""
    fsm_transition(
        run,
        entity_type=ENTITY,
        actor=actor,
        target=target,
        reason=reason,
        lock=False,
        arguments=arguments,
        update_fields=update_fields,
        publish=run_publisher(verb, actor=actor, **(event or {})),
    )
    counters.moved([run], source=source, target=target)


# --- the registry execution of a finished run -------------------------------------------------
def record_execution(run: Run, *, outcome: str, at: datetime, actor) -> uuid.UUID | None:
    """Record the finished run as an execution of the deployment it ran on (registry ``/stats``
    count it), in the caller's transaction. Only atomic runs that actually started record one: a
    run cancelled or timed out before any attempt began never executed."""
    if run.work_unit_type != WorkUnitType.ATOMIC or run.deployment_id is None or run.started_at is None:
        return None
    from registry import services as registry_services

    execution = registry_services.execution_record_for_run(
        tenant=run.tenant_id,
        actor=actor,
        activity_id=run.activity_id,
        deployment_id=run.deployment_id,
        outcome=outcome,
        duration_ms=max(0, int((at - run.started_at).total_seconds() * 1000)),
        executed_at=at,
        agent_id=run.worker_id,
        evidence_ref=f"ocx:runs:{run.pk}",
        error_message=(run.error or "")[:2000] if outcome == "FAILURE" else "",
    )
    return execution.pk


# --- after commit -----------------------------------------------------------------------------
def dispatch_on_commit(runs: list[Run]) -> None:
    """Once the transaction commits: queue in-process runs on Celery, wake the agents waiting
    for the others. ``celery_task_id`` of in-process runs must be set (and saved) already."""
    in_process = [(r.pk, r.celery_task_id, r.start_to_close_timeout, _countdown(r)) for r in runs if _in_process(r)]
    by_tenant: dict[int, set[str]] = {}
    for run in runs:
        if not _in_process(run) and run.status == RunStatus.PENDING and _countdown(run) == 0:
            by_tenant.setdefault(run.tenant_id, set()).add(run.work_unit_id)

    def after_commit():
        from runs.tasks import enqueue_execute

        for run_id, task_id, time_limit, countdown in in_process:
            enqueue_execute(run_id=run_id, task_id=task_id, time_limit=time_limit, countdown=countdown)
        for tenant_id, work_units in by_tenant.items():
            wakeup.notify(tenant_id, sorted(work_units))

    if in_process or by_tenant:
        transaction.on_commit(after_commit)


def _in_process(run: Run) -> bool:
    return run.execution == Execution.IN_PROCESS and run.status == RunStatus.PENDING


def _countdown(run: Run) -> int:
    from django.utils import timezone

    delay = (run.available_at - timezone.now()).total_seconds() if run.available_at else 0
    return max(0, int(delay + 0.999))


def revoke_on_commit(run: Run, *, running: bool = False) -> None:
    """Once the transaction commits, revoke the run's Celery task: a queued one never starts;
    a ``running`` one is also interrupted (``SIGUSR1``: ``SoftTimeLimitExceeded`` in the handler
    under the prefork pool), so its report comes at once and, ``cancel_requested`` being set,
    ends the run ``cancelled``. Best effort: a worker that cannot be interrupted (solo / thread
    pools, a lost broadcast) reports when its handler returns, or its lease runs out and the
    sweep ends the run cancelled — never half-cancelled either way."""
    task_id = run.celery_task_id
    if not task_id:
        return

    def revoke():
        from runs.tasks import revoke_execute

        try:
            revoke_execute(task_id=task_id, terminate=running)
        except Exception:  # noqa: BLE001 - best effort: the task finds the run cancelled and stops
            logger.warning("could not revoke Celery task %s of run %s", task_id, run.pk, exc_info=True)

    transaction.on_commit(revoke)


def deadline_after(moment: datetime, schedule_to_start: int | None) -> datetime | None:
    return moment + timedelta(seconds=schedule_to_start) if schedule_to_start else None
