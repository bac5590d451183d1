"""The event-publishing API every service uses.

``publish(...)`` writes an immutable ``ActivityEvent`` and its ``OutboxEvent`` in the caller's
transaction. Only once that transaction commits is the event pushed to the tenant's channel
group (live clients) and the outbox dispatcher woken; a rolled-back state change therefore
never leaks an event. Publishing the same idempotency key twice returns the first event.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import nh3
from django.conf import settings
from django.db import router, transaction
from django.db.models.constants import OnConflict
from django.utils import timezone
from django.utils.module_loading import import_string

from ocx import errors, metrics
from ocx.audit import current_actor
from ocx.live_push import pusher

logger = logging.getLogger(__name__)

MAX_METADATA_BYTES = 64 * 1024
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
    configured = [import_string(path) for path in getattr(settings, "OCX_EVENT_HANDLERS", [])]
    return configured + [h for h in _handlers if h not in configured]


def sanitize_text(value: str | None, *, max_length: int | None = None) -> str:
    """Strip every HTML tag (nh3) so stored titles and descriptions are plain text."""
    cleaned = nh3.clean(value or "", tags=set()).strip()
    return cleaned[:max_length] if max_length else cleaned


def default_title(event_type: str, payload: dict | None = None) -> str:
    """``registry.activity.approved`` → ``Activity approved`` (see ``activity_feed.titles``)."""
    from activity_feed.titles import title_for

    return title_for(event_type, payload)


MAX_TAGS = 20
MAX_TAG_LENGTH = 64


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


def publish_with_status(
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
) -> tuple[Any, bool]:
    """``publish`` that also says whether the event is new (False: an earlier event with the
    same idempotency key was returned)."""
    from activity_feed.models import ActivityEvent, EventPriority, EventSource, OutboxEvent

    if "." not in type:
        raise errors.ValidationError(
            "Event type must be namespaced, e.g. 'registry.activity.approved'.", details={"type": type}
        )
    if priority not in EventPriority.values:
        raise errors.ValidationError(f"Unknown priority '{priority}'.", details={"priority": EventPriority.values})
    if source not in EventSource.values:
        raise errors.ValidationError(f"Unknown source '{source}'.", details={"source": EventSource.values})
    payload = validate_metadata(payload)
    tags = clean_tags(tags)

    actor = actor if actor is not None else current_actor()
    timestamp = timestamp or timezone.now()
    entity_id = "" if entity_id is None else str(entity_id)
    source_object_id = source_object_id if source_object_id is not None else entity_id
    key = idempotency_key or derive_idempotency_key(
        source_system=source_system, source_object_id=source_object_id, event_type=type, timestamp=timestamp
    )

    event = ActivityEvent(
        tenant_id=event_tenant_id(tenant),
        type=type,
        source=source,
        priority=priority,
        source_system=source_system,
        source_object_id=source_object_id,
        source_object_type=source_object_type,
        title=sanitize_text(title, max_length=500) or default_title(type, payload)[:500],
        description=sanitize_text(description),
        event_metadata=payload,
        entity_type=entity_type,
        entity_id=entity_id,
        user=actor if getattr(actor, "pk", None) else None,
        user_name=actor.get_username() if getattr(actor, "pk", None) else "",
        timestamp=timestamp,
        expires_at=expires_at,
        idempotency_key=key,
        tags=tags,
        correlation_id=correlation_id or "",
    )
    # The event and its outbox row commit together: in the caller's transaction, or in one of
    # their own. No savepoint: a duplicate is not an error to roll back (see _insert_unless_duplicate).
    with transaction.atomic(savepoint=False):
        if not _insert_unless_duplicate(event):
            existing = ActivityEvent.objects.for_tenant(event.tenant_id).filter(idempotency_key=key).first()
            if existing is None:  # pragma: no cover - nothing conflicts on the key: a clash of random
                # event_ids, or (SQLite's INSERT OR IGNORE skips these too) a NOT NULL/CHECK
                # violation, which the validation above rules out
                raise errors.Conflict("The event could not be stored; retry.", details={"idempotency_key": key})
            return existing, False
        OutboxEvent.objects.create(tenant_id=event.tenant_id, event=event, event_type=type, available_at=timezone.now())

    if not isinstance(tenant, int):
        event.tenant = tenant  # the live frame names the tenant's slug: spare the commit hook a query
    transaction.on_commit(lambda: after_commit(event.pk, event))
    return event, True


def _insert_unless_duplicate(event) -> bool:
    """``INSERT … ON CONFLICT DO NOTHING RETURNING id``: one statement whether the event is new
    or repeats an idempotency key (False, nothing written). A concurrent publisher of the same
    key makes this wait for its commit instead of failing, so neither a pre-check query nor a
    savepoint to recover from IntegrityError is needed. (``_insert`` is the manager method
    ``Model.save`` and ``bulk_create`` use; here it is asked for both ON CONFLICT and RETURNING.)"""
    from activity_feed.models import ActivityEvent

    meta, using = ActivityEvent._meta, router.db_for_write(ActivityEvent)
    rows = ActivityEvent._base_manager._insert(
        [event],
        fields=[f for f in meta.concrete_fields if f is not meta.pk],
        returning_fields=[meta.pk],
        on_conflict=OnConflict.IGNORE,
        using=using,
    )
    if not rows or rows[0] is None:  # one object: [None] when the row was not inserted
        return False
    event.pk = rows[0][0]
    event._state.adding, event._state.db = False, using
    return True


def publish(**kwargs):
    """Record an event in the caller's transaction; push and dispatch it after commit.

    Keyword arguments as ``publish_with_status``: tenant, type, title, description,
    entity_type, entity_id, payload, actor, source, source_system, source_object_id,
    source_object_type, priority, tags, correlation_id, idempotency_key, timestamp, expires_at.
    """
    return publish_with_status(**kwargs)[0]


def event_tenant_id(tenant) -> int:
    return tenant if isinstance(tenant, int) else tenant.pk


def after_commit(event_pk: int, event=None) -> None:
    """Push to live clients and wake the dispatcher. Never raises: the event is committed and
    the outbox sweeper will process it even if both of these fail."""
    from activity_feed.models import ActivityEvent

    try:
        if event is None:
            event = ActivityEvent.objects.all_tenants().select_related("tenant").get(pk=event_pk)
        metrics.EVENTS_PUBLISHED.labels(type=event.type).inc()
        push_live(event)
    except Exception:  # noqa: BLE001 - live push is best effort; clients catch up from the store
        logger.exception("live push of event %s failed", event_pk)
    try:
        from ocx.outbox import outbox_wake

        outbox_wake()
    except Exception:  # noqa: BLE001 - the beat sweeper dispatches whatever was not woken
        logger.exception("could not enqueue the outbox dispatcher for event %s", event_pk)


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
    try:
        from ocx.outbox import outbox_wake

        outbox_wake()
    except Exception:  # noqa: BLE001 - the beat sweeper dispatches whatever was not woken
        logger.exception("could not enqueue the outbox dispatcher for %d events", len(event_dicts))


def push_live(event) -> None:
    """Hand the event to this process's live pusher (``ocx.live_push``): the request does not
    wait for the channel layer."""
    from activity_feed.serializers import event_to_dict

    pusher.submit(tenant_group(event.tenant_id), {"type": "event.created", "event": event_to_dict(event)})
