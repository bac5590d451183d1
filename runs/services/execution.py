"""Executing runs: the reports of whoever holds a run's lease — an external agent through the
API, or an in-process handler in a Celery worker — and the in-process execution itself.

Every report names the lease it acts under (``lease_token`` + ``attempt``). One that does not
match the run's current lease (the lease expired and the run was re-offered, or it was
cancelled, or it finished) is refused with 409 CONFLICT and changes nothing: a late worker
never flips a re-run or cancelled run. A lease that ran out but was not yet re-offered is still
honoured (nobody else holds the run). Once ``cancel_requested`` is set, a ``complete`` or
``fail`` report acknowledges the cancellation: the run ends ``cancelled`` (what the executor
reported is kept on the run).
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.utils import timezone

from ocx.core import errors
from ocx.core.access import Perm
from ocx.core.db import get_or_404
from ocx.core.locks import lock_get_or_404, lock_one
from ocx.core.services import service
from runs import handlers
from runs.models import ErrorType, Execution, Run, RunStatus
from runs.services.common import (
    STARTED_FIELDS,
    backoff_seconds,
    check_size,
    dispatch_on_commit,
    move_run,
    new_token,
    record_execution,
    require,
)
from runs.services.runs import finish_cancelled, lease_until

logger = logging.getLogger(__name__)
_UNSET = object()
FINISH_FIELDS = ["output", "error", "error_type", "execution_id", "lease_token", "lease_expires_at", "completed_at",
                 "duration_ms", "updated_at"]  # fmt: skip


def _token(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError):
        return None


def _stale(run: Run, lease_token, attempt) -> errors.Conflict | None:
    if run.status == RunStatus.RUNNING and run.lease_token == _token(lease_token) and run.attempt == attempt:
        return None
    return errors.Conflict(
        "This lease is no longer valid: the run was re-offered, cancelled or has finished. Nothing was changed.",
        details={"run_id": str(run.pk), "status": run.status, "attempt": run.attempt, "reported_attempt": attempt},
    )


def _held(*, tenant, run_id, lease_token, attempt) -> Run:
    """The run, locked, if the report's lease is its current one (409 otherwise; 404 for none)."""
    run = lock_get_or_404(Run.objects.for_tenant(tenant), "Run", pk=run_id)
    stale = _stale(run, lease_token, attempt)
    if stale is not None:
        raise stale
    return run


# --- agent reports (and the in-process executor's, with actor None) ---------------------------
@service
def run_heartbeat(*, tenant, actor, run_id, lease_token, attempt: int, details=_UNSET, lease_seconds=None) -> Run:
    """Extend the current attempt's lease (never past its start-to-close limit) and keep the
    checkpoint ``details`` for the next attempt; the answer says whether cancellation was requested."""
    require(actor, tenant, Perm.RECORD_EXECUTION)
    if details is not _UNSET:
        check_size(details, field="details")
    run = get_or_404(Run.objects.for_tenant(tenant), "Run", pk=run_id)
    stale = _stale(run, lease_token, attempt)
    if stale is not None:
        raise stale
    now = timezone.now()
    values = {
        "heartbeat_at": now,
        "lease_expires_at": lease_until(run, now=now, lease_seconds=lease_seconds or run.lease_seconds),
        "updated_at": now,
    }
    if details is not _UNSET:
        values["heartbeat_details"] = details
    # One conditional UPDATE and no history row: progress, not a change of the run. The WHERE
    # re-checks the lease, so a sweep that re-offered the run meanwhile wins and this is a 409.
    changed = (
        Run.objects.for_tenant(tenant)
        .filter(pk=run.pk, status=RunStatus.RUNNING, lease_token=run.lease_token, attempt=attempt)
        .update(**values)
    )
    if not changed:
        raise errors.Conflict(
            "The lease was re-offered meanwhile. Nothing was changed.", details={"run_id": str(run.pk)}
        )
    for key, value in values.items():
        setattr(run, key, value)
    return run


@service
def run_complete(*, tenant, actor, run_id, lease_token, attempt: int, output=None) -> Run:
    """The current attempt succeeded: ``completed`` with its output, recorded in the registry
    (or ``cancelled``, acknowledging a requested cancellation)."""
    require(actor, tenant, Perm.RECORD_EXECUTION)
    check_size(output, field="output")
    run = _held(tenant=tenant, run_id=run_id, lease_token=lease_token, attempt=attempt)
    now = timezone.now()
    if run.cancel_requested:
        return finish_cancelled(run, actor=actor, at=now, reason="cancellation acknowledged", output=output)
    run.execution_id = record_execution(run, outcome="SUCCESS", at=now, actor=actor)
    move_run(
        run,
        actor=actor,
        source=RunStatus.RUNNING,
        target=RunStatus.COMPLETED,
        reason=f"completed by {run.worker_id}",
        arguments={"at": now, "output": output},
        update_fields=FINISH_FIELDS,
        verb="completed",
    )
    return run


@service
def run_fail(
    *,
    tenant,
    actor,
    run_id,
    lease_token,
    attempt: int,
    error: str,
    error_type: str = "",
    retryable: bool = False,
    retry_after: int | None = None,
) -> Run:
    """The current attempt failed: a retryable failure with attempts left goes back to
    ``pending`` (offered again after ``retry_after`` seconds, else exponential backoff);
    otherwise the run is ``failed`` and recorded in the registry (or ``cancelled``,
    acknowledging a requested cancellation)."""
    require(actor, tenant, Perm.RECORD_EXECUTION)
    run = _held(tenant=tenant, run_id=run_id, lease_token=lease_token, attempt=attempt)
    now = timezone.now()
    error, error_type = (error or "")[:10_000], (error_type or "Error")[:200]
    if run.cancel_requested:
        return finish_cancelled(run, actor=actor, at=now, reason="cancellation acknowledged", error=error)
    if retryable and run.attempt < run.max_attempts:
        delay = backoff_seconds(run.attempt) if retry_after is None else max(0, int(retry_after))
        if run.execution == Execution.IN_PROCESS:
            run.celery_task_id = str(new_token())  # the next attempt's task
        move_run(
            run,
            actor=actor,
            source=RunStatus.RUNNING,
            target=RunStatus.PENDING,
            reason=f"attempt {run.attempt} failed ({error_type}); retrying in {delay}s",
            arguments={
                "at": now,
                "available_at": now + timedelta(seconds=delay),
                "error": error,
                "error_type": error_type,
            },
            update_fields=[
                "error",
                "error_type",
                "lease_token",
                "lease_expires_at",
                "available_at",
                "deadline",
                "celery_task_id",
                "updated_at",
            ],  # fmt: skip
            verb="requeued",
            event={"retry_in_seconds": delay},
        )
        dispatch_on_commit([run])
        return run
    run.error = error  # what the registry execution records
    run.execution_id = record_execution(run, outcome="FAILURE", at=now, actor=actor)
    move_run(
        run,
        actor=actor,
        source=RunStatus.RUNNING,
        target=RunStatus.FAILED,
        reason=f"attempt {run.attempt} failed ({error_type})",
        arguments={"at": now, "error": error, "error_type": error_type},
        update_fields=FINISH_FIELDS,
        verb="failed",
    )
    return run


# --- in-process execution ---------------------------------------------------------------------
@service
def run_start_in_process(*, actor=None, run_id, worker_id: str) -> tuple[handlers.RunContext, uuid.UUID] | None:
    """Start the next attempt of a pending in-process run for this worker (None when there is
    nothing to start: the run was cancelled, finished, or another delivery of the task started it)."""
    run = lock_one(Run.objects.all_tenants().filter(pk=run_id).select_related("activity"), of=("self",))
    if run is None or run.status != RunStatus.PENDING or run.execution != Execution.IN_PROCESS:
        return None
    now = timezone.now()
    token = new_token()
    move_run(
        run,
        actor=actor,
        source=RunStatus.PENDING,
        target=RunStatus.RUNNING,
        reason=f"started in process by {worker_id}",
        arguments={
            "at": now,
            "worker_id": worker_id[:200],
            "lease_token": token,
            # In process, the lease is the attempt's time limit: a worker that dies (or a handler
            # that hangs) leaves a lease that the sweep settles like an agent's.
            "lease_expires_at": now + timedelta(seconds=run.start_to_close_timeout),
            "lease_seconds": run.start_to_close_timeout,
        },
        update_fields=STARTED_FIELDS,
        verb="started",
    )
    tenant_id, pk = run.tenant_id, run.pk
    return handlers.RunContext(
        run_id=str(run.pk),
        tenant_id=run.tenant_id,
        work_unit_id=run.work_unit_id,
        activity_version=run.activity_version,
        environment=run.environment,
        attempt=run.attempt,
        input=run.input,
        details=run.heartbeat_details,
        source=run.activity.ebcl_source if run.activity_id else "",
        _cancel_check=lambda: Run.objects.for_tenant(tenant_id).filter(pk=pk, cancel_requested=True).exists(),
    ), token


@dataclass
class Executed:
    """What one in-process execution did: ``skipped`` (nothing to start), ``completed``,
    ``failed``, ``retrying``, ``cancelled``, or ``stale`` (the lease was taken away meanwhile)."""

    outcome: str
    run: Run | None = None


def run_execute(*, run_id, worker_id: str) -> Executed:
    """Execute the next attempt of an in-process run: start it (one transaction), run its handler
    outside any transaction, report the outcome (another). Called by the ``runs.execute_run`` task."""
    started = run_start_in_process(run_id=run_id, worker_id=worker_id)
    if started is None:
        return Executed("skipped")
    ctx, token = started
    lease = {"tenant": ctx.tenant_id, "actor": None, "run_id": run_id, "lease_token": token, "attempt": ctx.attempt}
    handler = handlers.handler_for(ctx.work_unit_id)
    try:
        if handler is None:
            run = run_fail(
                **lease,
                error=f"No in-process handler is registered for {ctx.work_unit_id}.",
                error_type="HandlerNotFound",
            )
        else:
            run = _report(ctx, lease, handler)
    except errors.Conflict:
        logger.info("run %s: its lease was taken away while the handler ran; result dropped", run_id)
        return Executed("stale")
    outcome = {RunStatus.PENDING: "retrying"}.get(run.status, run.status)
    return Executed(outcome, run)


def _report(ctx: handlers.RunContext, lease: dict, handler) -> Run:
    try:
        output = handler(ctx)
    except handlers.TRANSIENT_ERRORS as exc:
        return run_fail(**lease, error=str(exc) or type(exc).__name__, error_type=type(exc).__name__, retryable=True)
    except SoftTimeLimitExceeded:
        # The soft time limit, or a cancellation's revoke (same signal): the report ends the run
        # cancelled if cancellation was requested, else it is a retryable timeout.
        if ctx.cancel_requested():
            return run_fail(**lease, error="The attempt was interrupted: the run was cancelled.",
                            error_type=ErrorType.CANCELLED)  # fmt: skip
        return run_fail(
            **lease,
            error=f"The attempt ran past its start-to-close timeout ({ctx.run_id}).",
            error_type=ErrorType.START_TO_CLOSE_TIMEOUT,
            retryable=True,
        )
    except Exception as exc:  # noqa: BLE001 - a handler's failure is the run's outcome, recorded
        logger.info("run %s: handler %s raised %r", ctx.run_id, ctx.work_unit_id, exc)
        return run_fail(**lease, error=str(exc) or type(exc).__name__, error_type=type(exc).__name__)
    try:
        json.dumps(output)
        if output is not None and not isinstance(output, dict):
            raise TypeError("a handler returns a JSON object")
        check_size(output, field="output")
    except (TypeError, ValueError, errors.ValidationError) as exc:
        message = getattr(exc, "message", str(exc))
        return run_fail(**lease, error=f"Invalid handler output: {message}", error_type=ErrorType.INVALID_OUTPUT)
    return run_complete(**lease, output=output)


def default_worker_id(hostname: str | None = None) -> str:
    import os
    import socket

    return f"celery:{hostname or socket.gethostname()}:{os.getpid()}"
