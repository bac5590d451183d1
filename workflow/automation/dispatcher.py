"""The automation dispatcher: an outbox handler that runs the matching triggers for each event.

Called by the spine's outbox dispatcher (``activity_feed.outbox``, at least once per event). Each trigger runs in its
own transaction with its ``TriggerExecution`` row, unique per (trigger, event): a redelivered
event finds the row and does nothing, two concurrent dispatchers collide on the unique index
and one rolls back. A trigger that raises is rolled back alone, its failure recorded on the
execution and the trigger (visible in the admin and ``/stats``); the others still run, and the
handler itself does not raise, so one bad trigger never holds the outbox row back.
"""

from __future__ import annotations

import logging
import time
import traceback

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from ocx.core.locks import lock_one
from workflow import conf
from workflow.automation.actions import run_action
from workflow.automation.predicates import evaluate_predicate
from workflow.metrics import TRIGGER_EVALUATIONS
from workflow.models import AutomationTrigger, ExecutionStatus, TriggerExecution
from workflow.services import context as automation_context

logger = logging.getLogger(__name__)


def event_data_of(event) -> dict:
    data = dict(event.event_metadata or {})
    data.setdefault("entity_type", event.entity_type)
    data.setdefault("entity_id", event.entity_id)
    data.setdefault("priority", event.priority)
    return data


# Every event of every app passes through the handler, and most match no trigger. The active
# triggers' (tenant, event type) patterns are cached per process so that such an event costs no
# query: invalidated at once in this process when a trigger is saved or deleted (signals below),
# and re-read at least every _PATTERN_TTL seconds for edits made by other processes.
_PATTERN_TTL = 5.0
_patterns: tuple[float, list[tuple[int | None, str]]] | None = None


def _active_patterns() -> list[tuple[int | None, str]]:
    global _patterns
    now = time.monotonic()
    if _patterns is None or now - _patterns[0] > _PATTERN_TTL:
        rows = AutomationTrigger.objects.filter(is_active=True).values_list("tenant_id", "event_type")
        _patterns = (now, list(rows))
    return _patterns[1]


def forget_trigger_patterns(**_kwargs) -> None:
    global _patterns
    _patterns = None


def _matches(pattern: str, event_type: str) -> bool:
    return pattern == event_type or (pattern.endswith("*") and event_type.startswith(pattern[:-1]))


def triggers_for(event) -> list[AutomationTrigger]:
    if not any(
        tenant_id in (None, event.tenant_id) and _matches(pattern, event.type)
        for tenant_id, pattern in _active_patterns()
    ):
        return []
    candidates = (
        AutomationTrigger.objects.filter(is_active=True)
        .filter(Q(tenant_id=event.tenant_id) | Q(tenant__isnull=True))
        .filter(Q(event_type=event.type) | Q(event_type__endswith="*"))
    )
    return [t for t in candidates.order_by("position", "id") if _matches(t.event_type, event.type)]


def handle_event(event) -> None:
    """The registered outbox handler."""
    if not conf.workflow_enabled():
        return
    for trigger in triggers_for(event):
        trigger_run(trigger=trigger, event=event)


def _record_failure(*, trigger, event, error: str) -> TriggerExecution:
    with transaction.atomic():
        execution, created = TriggerExecution.objects.all_tenants().get_or_create(
            trigger=trigger,
            event_id=event.pk,
            defaults={
                "tenant_id": event.tenant_id,
                "event_type": event.type,
                "status": ExecutionStatus.FAILED,
                "error": error,
            },
        )
        if not created:
            execution.status, execution.error = ExecutionStatus.FAILED, error
            execution.attempts = F("attempts") + 1
            execution.save(update_fields=["status", "error", "attempts", "updated_at"])
        AutomationTrigger.objects.filter(pk=trigger.pk).update(
            failure_count=F("failure_count") + 1, last_error=error[-4000:], last_failed_at=timezone.now()
        )
    return execution


def trigger_run(*, trigger: AutomationTrigger, event) -> TriggerExecution | None:
    """Evaluate one trigger against one event and run its actions (once per event)."""
    done = (
        TriggerExecution.objects.all_tenants()
        .filter(trigger=trigger, event_id=event.pk, status__in=[ExecutionStatus.SUCCEEDED, ExecutionStatus.SKIPPED])
        .first()
    )
    if done is not None:
        return done
    data = event_data_of(event)
    depth = int(data.get("automation_depth") or 0)
    try:
        if depth >= automation_context.MAX_AUTOMATION_DEPTH:
            raise RuntimeError(f"Automation chain deeper than {automation_context.MAX_AUTOMATION_DEPTH}: not run.")
        with transaction.atomic():
            # Claim first: a concurrent dispatcher of the same event blocks on this row.
            execution = lock_one(TriggerExecution.objects.all_tenants().filter(trigger=trigger, event_id=event.pk))
            if execution is None:
                execution = TriggerExecution.objects.create(
                    tenant_id=event.tenant_id, trigger=trigger, event_id=event.pk, event_type=event.type,
                    status=ExecutionStatus.SKIPPED,
                )  # fmt: skip
            elif execution.status != ExecutionStatus.FAILED:
                return execution
            else:
                execution.attempts += 1
            results = []
            if evaluate_predicate(trigger.predicate, event_data=data, event_type=event.type):
                with automation_context.automation(depth=depth + 1, trigger_id=trigger.pk):
                    for index, action in enumerate(trigger.actions):
                        results.append(run_action(trigger=trigger, event=event, data=data, action=action, index=index))
                execution.status = ExecutionStatus.SUCCEEDED
            else:
                execution.status = ExecutionStatus.SKIPPED
            execution.results, execution.error = results, ""
            execution.save()
    except IntegrityError:
        # Another dispatcher claimed (trigger, event) first; its transaction does the work.
        logger.info("trigger %s on event %s already claimed", trigger.pk, event.pk)
        return None
    except Exception:  # noqa: BLE001 - one trigger's failure is recorded and must not stop the others
        logger.exception("automation trigger %s failed on event %s", trigger.pk, event.pk)
        TRIGGER_EVALUATIONS.labels(trigger_id=str(trigger.pk), outcome="failed").inc()
        return _record_failure(trigger=trigger, event=event, error=traceback.format_exc(limit=5))
    TRIGGER_EVALUATIONS.labels(trigger_id=str(trigger.pk), outcome=execution.status).inc()
    return execution
