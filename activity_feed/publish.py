"""The spine's writer: every event, from a service, the API or an ingestion batch, is validated
by ``event_values`` and stored in the caller's transaction with its outbox row.

Only once that transaction commits is the event pushed to the tenant's channel group (live
clients) and the outbox dispatcher woken; a rolled-back state change therefore never leaks an
event. Storing the same idempotency key twice returns the first event. Apps call ``publish``
through ``activity_feed.services``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import nh3
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from activity_feed import metrics
from activity_feed.live_push import pusher
from activity_feed.models import ActivityEvent, EventPriority, EventSource, EventStatus, OutboxEvent
from ocx.core import errors
from ocx.core.audit import current_actor
from ocx.core.db import insert_unless_conflict

logger = logging.getLogger(__name__)

MAX_METADATA_BYTES = 64 * 1024
MAX_TAGS = 20
MAX_TAG_LENGTH = 64
_PRIORITIES = frozenset(EventPriority.values)
_SOURCES = frozenset(EventSource.values)
_handlers: list[Callable] = []


def tenant_group(tenant_id: int) -> str:
    return f"tenant.{tenant_id}"


def register_handler(handler: Callable | str) -> None:
    """Add an outbox consumer: ``handler(event)`` is called once per event (at least once)."""
    if isinstance(handler, str):
        handler = import_string(handler)
    if handler not in _handlers:
        _handlers.append(handler)


def handlers() -> list[Callable]:
    configured = [import_string(path) for path in settings.OCX_EVENT_HANDLERS]
    return configured + [h for h in _handlers if h not in configured]


# Text nh3 would return unchanged: printable ASCII, tab and newline, with no markup character.
# Most titles are such text; they skip the HTML parser (a bulk publish cleans six fields per event).
_NEEDS_CLEANING = re.compile(r"[^\t\n\x20-\x7e]|[<>&]")


def sanitize_text(value: str | None, *, max_length: int | None = None) -> str:
    """Strip every HTML tag (nh3) so stored titles and descriptions are plain text."""
    value = value or ""
    cleaned = (nh3.clean(value, tags=set()) if _NEEDS_CLEANING.search(value) else value).strip()
    return cleaned[:max_length] if max_length else cleaned


def default_title(event_type: str, payload: dict | None = None) -> str:
    """``registry.activity.approved`` → ``Activity approved`` (see ``activity_feed.titles``)."""
    from activity_feed.titles import title_for

    return title_for(event_type, payload)


def clean_tags(tags: Iterable[str] | None) -> list[str]:
    """Plain-text, de-duplicated, bounded tags (the metadata bound applies to them too)."""
    cleaned: list[str] = []
    for tag in tags or []:
        text = sanitize_text(str(tag), max_length=MAX_TAG_LENGTH)
        if text and text not in cleaned:
            cleaned.append(text)
    if len(cleaned) > MAX_TAGS:
        raise errors.ValidationError("Too many tags.", details={"max_tags": MAX_TAGS})
    return cleaned


def validate_metadata(payload: dict | None) -> dict:
    payload = payload or {}
    if not isinstance(payload, dict):
        raise errors.ValidationError("Event metadata must be a JSON object.")
    if len(json.dumps(payload, default=str)) > MAX_METADATA_BYTES:
        raise errors.ValidationError("Event metadata is too large.", details={"max_bytes": MAX_METADATA_BYTES})
    return payload


def derive_idempotency_key(*, source_system: str, source_object_id: str, event_type: str, timestamp: datetime) -> str:
    """Seed 004's rule: a key hashed from source system, source object id, type and timestamp."""
    raw = f"{source_system}|{source_object_id}|{event_type}|{timestamp.isoformat()}"
    return hashlib.sha256(raw.encode()).hexdigest()


def event_tenant_id(tenant) -> int:
    return tenant if isinstance(tenant, int) else tenant.pk


@dataclass
class Draft:
    """One event before it is stored: what ``publish`` builds and every ingestion normaliser
    produces."""

    type: str
    title: str = ""
    description: str = ""
    source: str = "webhook"
    source_system: str = "webhook"
    source_object_id: str = ""
    source_object_type: str = ""
    priority: str = "normal"
    entity_type: str = ""
    entity_id: str = ""
    payload: dict = field(default_factory=dict)
    tags: list = field(default_factory=list)
    correlation_id: str = ""
    idempotency_key: str = ""
    timestamp: datetime | None = None
    expires_at: datetime | None = None
    user_name: str = ""


def event_values(tenant_id: int, draft: Draft, *, now: datetime, actor=None) -> dict[str, Any]:
    """The one validator: check, sanitise and bound a draft into the event row's column values
    (a single event and a batch alike). ``actor``, a user, names who did it."""
    if "." not in draft.type:
        raise errors.ValidationError(
            "Event type must be namespaced, e.g. 'registry.activity.approved'.", details={"type": draft.type}
        )
    if draft.priority not in _PRIORITIES:
        raise errors.ValidationError(
            f"Unknown priority '{draft.priority}'.", details={"priority": EventPriority.values}
        )
    if draft.source not in _SOURCES:
        raise errors.ValidationError(f"Unknown source '{draft.source}'.", details={"source": EventSource.values})
    payload = validate_metadata(draft.payload)
    timestamp = draft.timestamp or now
    key = draft.idempotency_key or derive_idempotency_key(
        source_system=draft.source_system,
        source_object_id=draft.source_object_id,
        event_type=draft.type,
        timestamp=timestamp,
    )
    is_user = getattr(actor, "pk", None) is not None
    return {
        "tenant_id": tenant_id,
        "event_id": uuid.uuid4(),
        "type": draft.type[:120],
        "source": draft.source,
        "status": EventStatus.ACTIVE,
        "priority": draft.priority,
        "source_system": draft.source_system[:64],
        "source_object_id": str(draft.source_object_id)[:200],
        "source_object_type": str(draft.source_object_type)[:100],
        "title": sanitize_text(draft.title, max_length=500) or default_title(draft.type, payload)[:500],
        "description": sanitize_text(draft.description),
        "event_metadata": payload,
        "entity_id": str(draft.entity_id)[:200],
        "entity_type": str(draft.entity_type)[:100],
        "user_id": actor.pk if is_user else None,
        "user_name": actor.get_username() if is_user else sanitize_text(draft.user_name, max_length=150),
        "timestamp": timestamp,
        "created_at": now,
        "expires_at": draft.expires_at,
        "idempotency_key": key[:200],
        "tags": clean_tags(draft.tags),
        "correlation_id": str(draft.correlation_id or "")[:100],
    }


def store_event(*, tenant, draft: Draft, actor=None) -> tuple[ActivityEvent, bool]:
    """Store one event and its outbox row in the caller's transaction (or one of its own);
    ``(event, False)`` when an earlier event has the same idempotency key."""
    actor = actor if actor is not None else current_actor()
    event = ActivityEvent(**event_values(event_tenant_id(tenant), draft, now=timezone.now(), actor=actor))
    # No savepoint: a duplicate is not an error to roll back (the insert skips it).
    with transaction.atomic(savepoint=False):
        if not insert_unless_conflict(event):
            existing = (
                ActivityEvent.objects.for_tenant(event.tenant_id).filter(idempotency_key=event.idempotency_key).first()
            )
            if existing is None:  # pragma: no cover - nothing conflicts on the key: a clash of random event_ids
                raise errors.Conflict(
                    "The event could not be stored; retry.", details={"idempotency_key": event.idempotency_key}
                )
            return existing, False
        OutboxEvent.objects.create(
            tenant_id=event.tenant_id, event=event, event_type=event.type, available_at=timezone.now()
        )
    if not isinstance(tenant, int):
        event.tenant = tenant  # the live frame names the tenant's slug: spare the commit hook a query
    transaction.on_commit(lambda: after_commit(event.pk, event))
    return event, True


def publish(
    *,
    tenant,
    type: str,
    title: str | None = None,
    description: str = "",
    entity_type: str = "",
    entity_id: Any = "",
    payload: dict | None = None,
    actor=None,
    source: str = "internal",
    source_system: str = "ocx",
    source_object_id: str | None = None,
    source_object_type: str = "",
    priority: str = "normal",
    tags: Iterable[str] | None = None,
    correlation_id: str = "",
    idempotency_key: str | None = None,
    timestamp: datetime | None = None,
    expires_at: datetime | None = None,
) -> ActivityEvent:
    """Record an event in the caller's transaction; push and dispatch it after commit. A repeated
    ``idempotency_key`` (given, or derived from source system, source object id, type and
    timestamp) returns the first event. ``actor`` defaults to the audit context's user."""
    entity_id = "" if entity_id is None else str(entity_id)
    draft = Draft(
        type=type,
        title=title or "",
        description=description,
        source=source,
        source_system=source_system,
        source_object_id=source_object_id if source_object_id is not None else entity_id,
        source_object_type=source_object_type,
        priority=priority,
        entity_type=entity_type,
        entity_id=entity_id,
        payload=payload or {},
        tags=list(tags or []),
        correlation_id=correlation_id,
        idempotency_key=idempotency_key or "",
        timestamp=timestamp,
        expires_at=expires_at,
    )
    return store_event(tenant=tenant, draft=draft, actor=actor)[0]


def after_commit(event_pk: int, event=None) -> None:
    """Push to live clients and wake the dispatcher. Never raises: the event is committed and
    the outbox sweeper will process it even if both of these fail."""
    try:
        if event is None:
            event = ActivityEvent.objects.all_tenants().select_related("tenant").get(pk=event_pk)
        metrics.EVENTS_PUBLISHED.labels(type=event.type).inc()
        push_live(event)
    except Exception:  # noqa: BLE001 - live push is best effort; clients catch up from the store
        logger.exception("live push of event %s failed", event_pk)
    _wake_dispatcher(f"event {event_pk}")


def after_commit_batch(tenant_id: int, event_dicts: list[dict]) -> None:
    """``after_commit`` for a stored batch (bulk ingestion): the already-serialised events go
    to the tenant's group as ONE channel message, and the dispatcher is woken once."""
    if not event_dicts:
        return
    try:
        for event in event_dicts:
            metrics.EVENTS_PUBLISHED.labels(type=event["type"]).inc()
        pusher.submit(tenant_group(tenant_id), {"type": "events.created", "events": event_dicts})
    except Exception:  # noqa: BLE001 - live push is best effort; clients catch up from the store
        logger.exception("live push of %d events failed", len(event_dicts))
    _wake_dispatcher(f"{len(event_dicts)} events")


def _wake_dispatcher(what: str) -> None:
    try:
        from activity_feed.outbox import outbox_wake

        outbox_wake()
    except Exception:  # noqa: BLE001 - the beat sweeper dispatches whatever was not woken
        logger.exception("could not enqueue the outbox dispatcher for %s", what)


def push_live(event) -> None:
    """Hand the event to this process's live pusher (``activity_feed.live_push``): the request
    does not wait for the channel layer."""
    from activity_feed.serializers import event_to_dict

    pusher.submit(tenant_group(event.tenant_id), {"type": "event.created", "event": event_to_dict(event)})
