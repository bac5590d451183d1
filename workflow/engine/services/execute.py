"""One attempt of an automated activity, as the Celery task runs it: claim (short transaction),
run the handler (no transaction, no lock held), report (short transaction)."""

from __future__ import annotations

import json
import logging

from celery.exceptions import SoftTimeLimitExceeded

from workflow.engine import handlers
from workflow.engine.handlers import ActivityError, AwaitRun
from workflow.engine.models import ActivityInstance
from workflow.engine.services import runtime

logger = logging.getLogger(__name__)


def execute_activity(*, activity_id: int, attempt: int) -> str:
    """Run attempt ``attempt`` of the activity if it is still due; "duplicate" otherwise."""
    ctx = runtime.activity_begin(activity_id=activity_id, attempt=attempt)
    if ctx is None:
        return "duplicate"
    name = (
        ActivityInstance.objects.all_tenants()
        .filter(pk=activity_id)
        .values_list("activity_template__handler_name", flat=True)
        .first()
    )
    handler = handlers.get(name or "")
    try:
        if handler is None:
            raise ActivityError(f"Handler {name!r} is not registered in this worker.", error_type="UnknownHandler")
        output = handler.execute(ctx) or {}
        if not isinstance(output, dict):
            raise ActivityError("A handler returns an object.", error_type="InvalidHandlerOutput")
        output = json.loads(json.dumps(output, default=str))
    except AwaitRun as waiting:
        # The attempt waits for a run without holding this worker: its end event finishes it.
        from workflow.engine.services.child_runs import activity_await_run

        activity_await_run(activity_id=activity_id, attempt=attempt, run_id=waiting.run_id)
        return "awaiting_run"
    except SoftTimeLimitExceeded:
        return runtime.activity_fail(
            activity_id=activity_id,
            attempt=attempt,
            error_type="ActivityTimeout",
            error="The attempt exceeded its timeout.",
        )
    except ActivityError as exc:
        return runtime.activity_fail(
            activity_id=activity_id, attempt=attempt, error_type=exc.error_type, error=str(exc)
        )
    except Exception as exc:  # noqa: BLE001 - any handler error is the activity's failure, typed by its class
        logger.info("activity %s attempt %s failed", activity_id, attempt, exc_info=True)
        return runtime.activity_fail(
            activity_id=activity_id, attempt=attempt, error_type=type(exc).__name__, error=str(exc)
        )
    runtime.activity_succeed(activity_id=activity_id, attempt=attempt, output=output)
    return "completed"
