"""Automation trigger definitions: validated (predicate sandbox, action shapes) before saving."""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction

from ocx.core import errors
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


def trigger_create(
    *, tenant, name: str, event_type: str, actions: list, predicate: str = "", description: str = "",
    is_active: bool = True, position: int = 100,
) -> AutomationTrigger:  # fmt: skip
    """A tenant trigger (``tenant`` None: every tenant). A predicate the sandbox refuses is never saved."""
    _validate(event_type=event_type, predicate=predicate, actions=actions)
    with transaction.atomic():
        return AutomationTrigger.objects.create(
            tenant_id=getattr(tenant, "pk", tenant),
            name=name,
            description=description,
            event_type=event_type,
            predicate=predicate or "",
            actions=actions,
            is_active=is_active,
            position=position,
        )


def trigger_update(*, trigger_id: int, **changes) -> AutomationTrigger:
    """Edit a trigger; the whole resulting definition is validated again."""
    with transaction.atomic():
        trigger = AutomationTrigger.objects.select_for_update().get(pk=trigger_id)
        fields = [name for name in EDITABLE if name in changes]
        for name in fields:
            setattr(trigger, name, changes[name])
        _validate(event_type=trigger.event_type, predicate=trigger.predicate, actions=trigger.actions)
        trigger.save(update_fields=[*fields, "updated_at"])
    return trigger
