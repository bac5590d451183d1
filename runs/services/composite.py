"""Composite work units: runs of a dynamic workflow template, executed by the workflow engine.

runs sits below the engine (``workflow`` imports ``runs``, never the other way round), so the
engine plugs itself in (dependency inversion): it implements :class:`CompositeExecutor` and
registers it with :func:`register_composite_executor` from its ``AppConfig.ready``. With no
executor registered, composite runs are refused with a clear error, never faked.

A composite run is ``running`` from the start (its "attempt" is the workflow instance, started
in the run-creation transaction; no lease, so the lease sweep never touches it) and ends when
the engine calls :func:`composite_run_finished`. Cancelling it asks the executor to cancel the
instance and ends the run ``cancelled`` in the same transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from django.utils import timezone

from ocx.core import errors
from ocx.core.locks import lock_get_or_404
from ocx.core.services import service
from runs.models import Execution, Run, RunStatus
from runs.services.common import STARTED_FIELDS, move_run

logger = logging.getLogger(__name__)
OUTCOMES = ("completed", "failed", "cancelled")
#: ``worker_id`` of a composite run: the engine holds it, not an agent.
WORKER = "workflow"


@dataclass(frozen=True)
class CompositeUnit:
    """A composite work unit as the executor resolved it."""

    id: str  # the template's id as a string
    name: str  # template name
    version: int  # template version that will run (latest published unless an id pins one)


@runtime_checkable
class CompositeExecutor(Protocol):
    def resolve(self, *, tenant, ref: str) -> CompositeUnit | None:
        """The work unit ``ref`` names (a template name: its latest published version; or a
        template id), or None when there is none for this tenant."""

    def start(self, *, run, unit: CompositeUnit, input: dict, actor) -> str:
        """Start a workflow instance for ``run`` (called inside the run-creation transaction;
        queue work on commit, do not finish the run synchronously); its id as a string."""

    def cancel(self, *, run, instance_ref: str, actor, reason: str) -> None:
        """Cancel the instance (inside the run-cancel transaction)."""


_executor: CompositeExecutor | None = None


def register_composite_executor(executor: CompositeExecutor) -> None:
    """Install the executor of composite work units (the workflow engine, at start-up)."""
    global _executor
    _executor = executor


def unregister_composite_executor() -> None:
    """Remove the executor (tests)."""
    global _executor
    _executor = None


def composite_executor() -> CompositeExecutor | None:
    return _executor


def require_executor() -> CompositeExecutor:
    if _executor is None:
        raise errors.ValidationError(
            "Composite work units (dynamic workflow templates) cannot be run: no workflow engine is installed "
            "to execute them.",
            details={"work_unit_type": "composite"},
        )
    return _executor


def resolve_unit(*, tenant, ref: str) -> CompositeUnit:
    """The composite work unit ``ref`` names (400 without an executor, 404 for none)."""
    unit = require_executor().resolve(tenant=tenant, ref=ref)
    if unit is None:
        raise errors.NotFound(
            f"Work unit {ref!r} not found: no published workflow template has this id or name.",
            details={"work_unit_id": ref, "work_unit_type": "composite"},
        )
    return unit


def start_composite(run: Run, *, unit: CompositeUnit, actor) -> None:
    """Move a just-created composite run to ``running`` and start its workflow instance (in the
    caller's transaction). The run is running before the executor sees it, so an engine that
    reports back early finds a run it can finish."""
    now = timezone.now()
    move_run(
        run,
        actor=actor,
        source=RunStatus.PENDING,
        target=RunStatus.RUNNING,
        reason=f"workflow instance of {unit.name} v{unit.version} started",
        arguments={"at": now, "worker_id": WORKER, "lease_token": None, "lease_expires_at": None, "lease_seconds": 0},
        update_fields=STARTED_FIELDS,
        verb="started",
    )
    ref = str(require_executor().start(run=run, unit=unit, input=run.input or {}, actor=actor))[:64]
    # The instance ref is a pointer, not a change of the run: no second history row.
    Run.objects.all_tenants().filter(pk=run.pk).update(workflow_instance_ref=ref)
    run.workflow_instance_ref = ref


def cancel_composite(run: Run, *, actor, reason: str) -> Run:
    """Cancel a running composite run (locked by the caller): the executor cancels the instance,
    then the run ends ``cancelled`` — unless the executor already ended it through
    :func:`composite_run_finished`, which is then what the run says."""
    executor = composite_executor()
    if executor is None:
        logger.warning("run %s: no composite executor registered; its workflow instance is not cancelled", run.pk)
    elif run.workflow_instance_ref:
        executor.cancel(run=run, instance_ref=run.workflow_instance_ref, actor=actor, reason=reason)
        status = Run.objects.all_tenants().filter(pk=run.pk).values_list("status", flat=True).first()
        if status != RunStatus.RUNNING:
            run.refresh_from_db()
            return run
    _finish(run, actor=actor, outcome="cancelled", reason=reason or "cancelled")
    return run


def _finish(run: Run, *, actor, outcome: str, reason: str, output=None, error: str = "", error_type: str = "") -> None:
    """End a running composite run: ``completed``, ``failed`` or ``cancelled`` (its lock held)."""
    now = timezone.now()
    fields = ["lease_token", "lease_expires_at", "completed_at", "duration_ms", "updated_at"]
    if outcome == "completed":
        target, arguments = RunStatus.COMPLETED, {"at": now, "output": output}
        fields += ["output", "error", "error_type"]
    elif outcome == "failed":
        target = RunStatus.FAILED
        arguments = {
            "at": now,
            "error": (error or "The workflow instance failed.")[:10_000],
            "error_type": (error_type or "WorkflowFailed")[:200],
        }
        fields += ["error", "error_type"]
        if output is not None:
            run.output = output
            fields.append("output")
    else:
        target, arguments = RunStatus.CANCELLED, {"at": now}
        fields += ["cancel_requested", "error_type"]
    move_run(
        run,
        actor=actor,
        source=RunStatus.RUNNING,
        target=target,
        reason=reason,
        arguments=arguments,
        update_fields=fields,
        verb=outcome,
        event={"reason": reason} if target == RunStatus.CANCELLED else None,
    )


@service
def composite_run_finished(
    *,
    actor,
    run_id,
    outcome: str,
    output: dict | None = None,
    error: str | None = None,
    error_type: str | None = None,
) -> Run:
    """The workflow instance of a composite run ended: the run ends ``completed`` (with the
    instance's output), ``failed`` (with its error) or ``cancelled``. Idempotent: a run already
    finished is returned unchanged."""
    if outcome not in OUTCOMES:
        raise errors.ValidationError(
            "outcome must be completed, failed or cancelled.", details={"outcome": outcome, "allowed": list(OUTCOMES)}
        )
    run = lock_get_or_404(Run.objects.all_tenants(), "Run", pk=run_id)
    if run.execution != Execution.WORKFLOW:
        raise errors.ValidationError(
            "This run is not a composite (workflow) run.", details={"run_id": str(run.pk), "execution": run.execution}
        )
    if run.status in (RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED):
        return run
    if run.status != RunStatus.RUNNING:
        raise errors.Conflict(
            "A composite run finishes only once it is running.", details={"run_id": str(run.pk), "status": run.status}
        )
    reason = {"completed": "workflow instance completed", "failed": "workflow instance failed"}.get(
        outcome, "workflow instance cancelled"
    )
    _finish(run, actor=actor, outcome=outcome, reason=reason, output=output, error=error or "",
            error_type=error_type or "")  # fmt: skip
    return run
