"""What a matched trigger does, in the order its ``actions`` list gives.

Each action runs inside the trigger's transaction (all of a trigger's actions, or none) and
calls the same services a person would, as the system actor. The webhook action only queues a
``WebhookDelivery``; the HTTP call happens in a Celery task after commit.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from activity_feed.services import publish
from workflow import conf
from workflow.models import ActionPlan, Task, WebhookDelivery

_PLACEHOLDER = re.compile(r"\{([A-Za-z][A-Za-z0-9_]*)\}")


def render(template: Any, data: dict) -> str:
    """``"Assessment: {title}"`` → ``"Assessment: New client"``. Only plain names are replaced
    (no ``str.format``: it would allow attribute access such as ``{x.__class__}``)."""
    text = "" if template is None else str(template)
    return _PLACEHOLDER.sub(lambda m: "" if data.get(m.group(1)) is None else str(data.get(m.group(1))), text)


def _source_task(event, data) -> Task | None:
    task_id = data.get("task_id") or (event.entity_id if event.entity_type == "task" else None)
    if not task_id:
        return None
    return Task.objects.for_tenant(event.tenant_id).select_related("assigned_to").filter(pk=task_id).first()


def create_task(*, trigger, event, data: dict, params: dict, index: int) -> dict:
    from workflow.services.tasks import resolve_member, task_create

    source = _source_task(event, data)
    assignee = None
    if params.get("assigned_to"):
        assignee = resolve_member(tenant=event.tenant_id, username=render(params["assigned_to"], data))
    elif params.get("copy_assignee", True) and source is not None:
        assignee = source.assigned_to
    plan_id = None
    if params.get("link_action_plan", True) and source is not None and source.action_plan_id:
        plan_id = source.action_plan_id
    if plan_id and ActionPlan.objects.for_tenant(event.tenant_id).filter(pk=plan_id, state="archived").exists():
        plan_id = None
    due_date = None
    if params.get("due_in_minutes"):
        due_date = timezone.now() + timedelta(minutes=int(params["due_in_minutes"]))
    task = task_create(
        tenant=event.tenant_id,
        actor=None,
        title=render(params["title"], data)[:300],
        description=render(params.get("description", ""), data),
        task_type=render(params.get("task_type", "general"), data) or "general",
        service_area=render(params.get("service_area", ""), data),
        priority=params.get("priority", "medium"),
        assigned_to=assignee,
        action_plan_id=plan_id,
        due_date=due_date,
        metadata={
            "created_by_trigger": trigger.key or trigger.pk,
            "source_event_id": event.pk,
            "source_task_id": source.pk if source else None,
        },
    )
    return {"action_type": "create_task", "task_id": task.pk}


def transition(*, trigger, event, data: dict, params: dict, index: int) -> dict:
    from workflow.services.action_plans import action_plan_transition
    from workflow.services.tasks import task_transition

    entity_type = params.get("entity_type", "task")
    default_id = data.get("task_id") if entity_type == "task" else data.get("action_plan_id")
    entity_id = int(render(params.get("entity_id"), data) or default_id or event.entity_id)
    context = {"trigger_id": trigger.pk, "source_event_id": event.pk}
    if entity_type == "task":
        task, record = task_transition(
            tenant=event.tenant_id,
            task_id=entity_id,
            target_state=params["target_state"],
            actor=None,
            context=context,
            notes=render(params.get("notes", f"Automation: {trigger.name}"), data),
        )
    else:
        task, record = action_plan_transition(
            tenant=event.tenant_id, plan_id=entity_id, target_state=params["target_state"], actor=None, context=context
        )
    return {
        "action_type": "transition",
        "entity_type": entity_type,
        "entity_id": entity_id,
        "to_state": record.to_state,
    }


def emit_alert(*, trigger, event, data: dict, params: dict, index: int) -> dict:
    escalate = bool(params.get("escalate", False))
    message = render(params.get("message") or params["alert_type"], data)
    alert = publish(
        tenant=event.tenant_id,
        type="workflow.alert.raised",
        title=f"Alert: {message}"[:500],
        description=render(params.get("description", ""), data),
        entity_type=event.entity_type,
        entity_id=event.entity_id,
        payload={
            "alert_type": params["alert_type"],
            "message": message,
            "escalate": escalate,
            "trigger_id": trigger.pk,
            "trigger": trigger.key or trigger.name,
            "source_event_id": event.pk,
            "source_event_type": event.type,
        },
        source="system",
        priority="critical" if escalate else params.get("priority", "high"),
        correlation_id=event.correlation_id or "",
        idempotency_key=f"workflow:alert:{trigger.pk}:{event.pk}:{index}",
    )
    return {"action_type": "emit_alert", "event_id": alert.pk}


def webhook(*, trigger, event, data: dict, params: dict, index: int) -> dict:
    from workflow.tasks import deliver_webhook

    delivery = WebhookDelivery.objects.create(
        tenant_id=event.tenant_id,
        trigger=trigger,
        event_id=event.pk,
        url=params["url"],
        secret=params.get("secret") or conf.webhook_default_secret(),
        payload={
            "event": {
                "id": event.pk,
                "event_id": str(event.event_id),
                "type": event.type,
                "title": event.title,
                "entity_type": event.entity_type,
                "entity_id": event.entity_id,
                "timestamp": event.timestamp.isoformat(),
                "data": data,
            },
            "trigger": {"id": trigger.pk, "key": trigger.key, "name": trigger.name},
        },
        max_attempts=int(params.get("max_attempts") or conf.webhook_max_attempts()),
        next_attempt_at=timezone.now(),
    )
    # Never inside the transaction: the worker picks it up after commit.
    transaction.on_commit(lambda: deliver_webhook.delay(delivery.pk))
    return {"action_type": "webhook", "delivery_id": delivery.pk}


ACTIONS = {"create_task": create_task, "transition": transition, "emit_alert": emit_alert, "webhook": webhook}


def run_action(*, trigger, event, data: dict, action: dict, index: int) -> dict:
    return ACTIONS[action["action_type"]](
        trigger=trigger, event=event, data=data, params=action.get("parameters") or {}, index=index
    )
