"""Checks of a trigger definition, shared by the model's ``clean()``, the admin and the service."""

from __future__ import annotations

from urllib.parse import urlparse

from django.core.exceptions import ValidationError

from workflow.automation.predicates import PredicateRejected, validate_predicate

ACTION_TYPES = ("create_task", "transition", "emit_alert", "webhook")
REQUIRED = {
    "create_task": ("title",),
    "transition": ("target_state",),
    "emit_alert": ("alert_type",),
    "webhook": ("url",),
}


def validate_actions(actions) -> None:
    if not isinstance(actions, list) or not actions:
        raise ValidationError({"actions": "Actions must be a non-empty ordered list."})
    for index, action in enumerate(actions):
        where = f"actions[{index}]"
        if not isinstance(action, dict):
            raise ValidationError({"actions": f"{where} must be an object with action_type and parameters."})
        kind = action.get("action_type")
        if kind not in ACTION_TYPES:
            raise ValidationError({"actions": f"{where}.action_type must be one of {', '.join(ACTION_TYPES)}."})
        params = action.get("parameters", {})
        if not isinstance(params, dict):
            raise ValidationError({"actions": f"{where}.parameters must be an object."})
        missing = [key for key in REQUIRED[kind] if not params.get(key)]
        if missing:
            raise ValidationError({"actions": f"{where} ({kind}) needs {', '.join(missing)}."})
        if kind == "webhook":
            url = urlparse(str(params["url"]))
            if url.scheme not in {"http", "https"} or not url.netloc:
                raise ValidationError({"actions": f"{where}.parameters.url must be an http(s) URL."})
        if kind == "create_task":
            if params.get("priority", "medium") not in {"low", "medium", "high", "critical"}:
                raise ValidationError(
                    {"actions": f"{where}.parameters.priority must be low, medium, high or critical."}
                )
            if "due_in_minutes" in params and not str(params["due_in_minutes"]).isdigit():
                raise ValidationError({"actions": f"{where}.parameters.due_in_minutes must be a whole number."})
        if kind == "transition" and params.get("entity_type", "task") not in {"task", "action_plan"}:
            raise ValidationError({"actions": f"{where}.parameters.entity_type must be task or action_plan."})


def validate_trigger_definition(*, event_type: str, predicate: str, actions) -> None:
    """Raise django's ValidationError (field → message) when the definition is not acceptable."""
    if not event_type or "." not in event_type.rstrip("*"):
        raise ValidationError({"event_type": "Use a namespaced OCX event type, e.g. workflow.task.completed."})
    try:
        validate_predicate(predicate)
    except PredicateRejected as exc:
        raise ValidationError({"predicate": str(exc)}) from None
    validate_actions(actions)
