"""Automation trigger definitions: validated (predicate sandbox, action shapes) before saving."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError

from activity_feed.services import publish
from ocx.core import errors
from ocx.core.locks import lock_get_or_404
from ocx.core.services import service
from workflow.automation.validation import validate_trigger_definition
from workflow.models import AutomationTrigger

EDITABLE = ("name", "description", "event_type", "predicate", "actions", "is_active", "position")


def _validate(*, event_type, predicate, actions) -> None:
    try:
        validate_trigger_definition(event_type=event_type, predicate=predicate, actions=actions)
    except DjangoValidationError as exc:
        details = exc.message_dict
        first = next(iter(details.values()))[0]
        raise errors.ValidationError(first, details=details) from None


def _trigger_event(trigger: AutomationTrigger, *, verb: str, actor, **extra) -> None:
    """``workflow.trigger.created|updated`` in the service's transaction. A global trigger
    (tenant NULL) belongs to no tenant's feed: its history row is its record."""
    if trigger.tenant_id is None:
        return
    publish(
        tenant=trigger.tenant_id,
        type=f"workflow.trigger.{verb}",
        title=f"Automation trigger {verb}: {trigger.name}",
        entity_type="trigger",
        entity_id=trigger.pk,
        payload={
            "trigger_id": trigger.pk,
            "name": trigger.name,
            "event_type": trigger.event_type,
            "predicate": trigger.predicate,
            # The action types only: a webhook's parameters may carry its signing secret.
            "action_types": [action.get("action_type") for action in trigger.actions],
            "is_active": trigger.is_active,
            "position": trigger.position,
            **extra,
        },
        actor=actor,
    )


@service
def trigger_create(
    *, tenant, actor=None, name: str, event_type: str, actions: list, predicate: str = "", description: str = "",
    is_active: bool = True, position: int = 100,
) -> AutomationTrigger:  # fmt: skip
    """A tenant trigger (``tenant`` None: every tenant). A predicate the sandbox refuses is never saved."""
    _validate(event_type=event_type, predicate=predicate, actions=actions)
    trigger = AutomationTrigger.objects.create(
        tenant_id=getattr(tenant, "pk", tenant),
        name=name,
        description=description,
        event_type=event_type,
        predicate=predicate or "",
        actions=actions,
        is_active=is_active,
        position=position,
    )
    _trigger_event(trigger, verb="created", actor=actor)
    return trigger


@service
def trigger_update(*, trigger_id: int, actor=None, **changes) -> AutomationTrigger:
    """Edit a trigger; the whole resulting definition is validated again."""
    trigger = lock_get_or_404(AutomationTrigger.objects.all(), "Automation trigger", pk=trigger_id)
    fields = [name for name in EDITABLE if name in changes]
    for name in fields:
        setattr(trigger, name, changes[name])
    _validate(event_type=trigger.event_type, predicate=trigger.predicate, actions=trigger.actions)
    trigger.save(update_fields=[*fields, "updated_at"])
    _trigger_event(trigger, verb="updated", actor=actor, changed=fields)
    return trigger
