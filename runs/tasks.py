"""Celery tasks of the runs app: thin, take ids, call one service."""

from __future__ import annotations

from celery import shared_task

from ocx.core.audit import acting_as


@shared_task(name="runs.execute_run", bind=True, acks_late=True, ignore_result=True)
def execute_run(self, run_id: str) -> str:
    """Execute the next attempt of an in-process run (a no-op if it is not pending any more, so a
    redelivered message never runs a handler twice for one attempt)."""
    from runs.services import run_execute
    from runs.services.execution import default_worker_id

    with acting_as(None, reason="in-process run"):
        return run_execute(run_id=run_id, worker_id=default_worker_id(self.request.hostname)).outcome


def enqueue_execute(*, run_id, task_id: str, time_limit: int, countdown: int = 0) -> None:
    """Queue ``execute_run`` (called on commit): the soft time limit is the run's start-to-close
    timeout, the hard one a little later, so a handler that ignores the soft one is killed (under
    the prefork pool; the lease sweep settles the run either way)."""
    execute_run.apply_async(
        (str(run_id),),
        task_id=task_id or None,
        countdown=countdown or None,
        soft_time_limit=time_limit,
        time_limit=time_limit + 10,
    )


def revoke_execute(*, task_id: str, terminate: bool = False) -> None:
    """Revoke an ``execute_run`` task (called on commit of a cancellation): workers drop it if it
    is still queued; ``terminate`` also interrupts it if it is executing, with ``SIGUSR1`` — the
    soft time limit's signal, so the handler gets ``SoftTimeLimitExceeded`` and the task still
    reports, instead of its process being killed."""
    if terminate:
        execute_run.app.control.revoke(task_id, terminate=True, signal="SIGUSR1")
    else:
        execute_run.app.control.revoke(task_id)


@shared_task(name="runs.settle_leases", acks_late=True, ignore_result=True)
def settle_leases() -> dict:
    """Beat job: settle expired leases (re-offer, fail with LeaseExpired, or end a cancelled run)
    and fail pending runs past their schedule-to-start deadline."""
    from runs.services import runs_settle

    with acting_as(None, reason="run lease sweep"):
        return runs_settle().as_dict()
