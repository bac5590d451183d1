"""Runs of the runs app an activity waits for (``run_work_unit``), and the cancellation that
reaches running work (Celery revokes, child runs).

An activity that starts a run does not hold a worker while the run goes on: its handler raises
``AwaitRun`` and the attempt stays ``running`` (its attempt deadline is the wait's timeout, kept
by the sweep). The run is created with the idempotency key ``workflow-activity:<id>:<attempt>``,
so its ``runs.run.completed / failed / cancelled`` event names the attempt it finishes without a
lookup that could race the handler (``workflow.engine.work_units.on_event``), and a redelivered
attempt finds the run it already started instead of starting a second one.
"""

from __future__ import annotations

import logging

from django.db import transaction

from ocx.core import errors
from ocx.core.services import service
from workflow.engine.models import ActivityState
from workflow.engine.services import runtime

logger = logging.getLogger(__name__)
KEY_PREFIX = "workflow-activity"


def run_key(activity_id: int, attempt: int) -> str:
    """The idempotency key of the run attempt ``attempt`` of an activity starts."""
    return f"{KEY_PREFIX}:{activity_id}:{attempt}"


def parse_run_key(key: str) -> tuple[int, int] | None:
    """(activity id, attempt) of a run an activity started, or None for any other run."""
    parts = (key or "").split(":")
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not (parts[1].isdigit() and parts[2].isdigit()):
        return None
    return int(parts[1]), int(parts[2])


@service
def activity_await_run(*, activity_id: int, attempt: int, run_id, actor=None) -> bool:
    """Attempt ``attempt`` started run ``run_id`` and waits for it (False: the attempt is no
    longer current — the run's end event may already have finished it)."""
    inst, _parent, act = runtime._lock_instance_and_activity(activity_id)
    if act is None or act.retry_count != attempt:
        return False
    if act.run_id is None or str(act.run_id) != str(run_id):
        act.run_id = run_id
        act.save(update_fields=["run_id"])
    if act.state != ActivityState.RUNNING:
        return False
    runtime.emit(inst, "activity.awaiting_run", act=act, actor=actor, run_id=str(run_id))
    return True


def run_result(*, key: str, run_id: str, output) -> dict:
    """What a finished run contributes to the context: its output object as it is (anything
    else under ``<key>_output``), plus ``_run_id`` (kept on the activity, not merged)."""
    result = dict(output) if isinstance(output, dict) else {f"{key}_output": output}
    result["_run_id"] = str(run_id)
    return result


def revoke_on_commit(task_ids: list[str]) -> None:
    """Revoke the Celery messages of attempts once the transaction commits (a message still
    queued is dropped by the worker; an attempt already running finds its activity cancelled
    when it reports, and its result is ignored — the mechanism runs use for their tasks)."""
    ids = [t for t in task_ids if t]
    if not ids:
        return

    def revoke():
        from celery import current_app

        if current_app.conf.task_always_eager:
            return
        try:
            current_app.control.revoke(ids)
        except Exception:  # noqa: BLE001 - best effort: a late attempt finds its activity cancelled
            logger.warning("could not revoke Celery tasks %s", ids, exc_info=True)

    transaction.on_commit(revoke)


def cancel_runs_on_commit(*, tenant_id: int, run_ids: list, reason: str) -> None:
    """Cancel the child runs of cancelled activities after commit (each in its own transaction:
    a run is locked after the engine's rows in no transaction)."""
    ids = [str(r) for r in run_ids if r]
    if not ids:
        return

    def cancel():
        from runs.services import run_cancel

        for run_id in ids:
            try:
                run_cancel(tenant=tenant_id, actor=None, run_id=run_id, reason=reason)
            except errors.ApplicationError:
                pass  # it finished meanwhile: nothing to cancel

    transaction.on_commit(cancel)
