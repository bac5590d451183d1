"""Readable titles for event types, so every app's events read well in the feed.

``title_for("registry.activity.approved")`` → ``"Activity approved"``. Apps may register an
exact title (or a function of the payload) for a type with ``register_title``; everything else
is derived from the namespaced type: the app prefix is dropped, snake_case becomes words,
known acronyms are upper-cased and CRM verbs become past participles
(``hubspot.contact.creation`` → ``"HubSpot contact created"``).
"""

from __future__ import annotations

from collections.abc import Callable

_registry: dict[str, str | Callable[[dict], str]] = {}

ACRONYMS = {"sla": "SLA", "api": "API", "ai": "AI", "crm": "CRM", "id": "ID", "url": "URL", "sso": "SSO", "cdc": "CDC"}
VERBS = {
    "create": "created", "creation": "created", "created": "created", "new": "created",
    "update": "updated", "updated": "updated", "propertychange": "property changed",
    "delete": "deleted", "deletion": "deleted", "deleted": "deleted",
    "undelete": "restored", "restore": "restored", "merge": "merged",
    "associationchange": "association changed", "gap_create": "created", "gap_update": "updated",
    "gap_delete": "deleted", "gap_undelete": "restored", "gap_overflow": "changes overflowed",
}  # fmt: skip
# External systems keep their name in the title: "HubSpot contact created".
SYSTEM_PREFIXES = {"hubspot": "HubSpot", "salesforce": "Salesforce"}

# Other apps' event types whose derived title would read oddly.
DEFAULT_TITLES = {
    "registry.activity.approval_requested": "Approval requested",
    "registry.activity.new_version": "New activity version",
    "registry.deployment.rolled_back": "Deployment rolled back",
    "workflow.task.sla_breached": "Task SLA breached",
    "workflow.task.sla_warning": "Task SLA at risk",
    "workflow.instance.compensated": "Workflow instance compensated",
    "workflow.instance.started": "Workflow instance started",
    "workflow.instance.completed": "Workflow instance completed",
    "workflow.instance.failed": "Workflow instance failed",
    "workflow.instance.cancelled": "Workflow instance cancelled",
    "workflow.instance.resumed": "Workflow instance resumed",
    "workflow.instance.compensating": "Workflow instance compensating",
    "workflow.activity.fanned_out": "Workflow activity fanned out",
    "workflow.activity.waiting": "Workflow activity waiting for a person",
    "workflow.activity.escalated": "Overdue workflow activity escalated",
    "workflow.incident.raised": "Workflow incident raised",
    "workflow.incident.resolved": "Workflow incident resolved",
    "workflow.template.created": "Workflow template created",
    "workflow.template.published": "Workflow template published",
    "runs.run.started": "Run started",
    "runs.run.completed": "Run completed",
    "runs.run.failed": "Run failed",
}


def register_title(event_type: str, title: str | Callable[[dict], str]) -> None:
    """Give ``event_type`` a fixed title, or a function ``payload -> title``."""
    _registry[event_type] = title


def _words(part: str) -> str:
    return " ".join(ACRONYMS.get(w, w) for w in part.replace("-", "_").split("_") if w)


def derive_title(event_type: str) -> str:
    parts = [p for p in event_type.split(".") if p]
    if not parts:
        return event_type
    prefix = SYSTEM_PREFIXES.get(parts[0].lower())
    body = parts[1:] if len(parts) > 1 else parts
    if len(body) >= 2 and body[-1].lower() in VERBS:
        body = [*body[:-1], VERBS[body[-1].lower()]]
    words = " ".join(_words(p.lower() if p.lower() in VERBS.values() else p) for p in body)
    if prefix:
        words = f"{prefix} {words[:1].lower() + words[1:] if not words[:2].isupper() else words}"
    return words[:1].upper() + words[1:]


def title_for(event_type: str, payload: dict | None = None) -> str:
    entry = _registry.get(event_type) or DEFAULT_TITLES.get(event_type)
    if callable(entry):
        try:
            return entry(payload or {})
        except Exception:  # noqa: BLE001 - a bad title function must never block an event
            return derive_title(event_type)
    return entry or derive_title(event_type)
