"""Writes of the event spine, and the spine's public API for every other app: ``publish`` (one
event in the caller's transaction), ``events_bulk_create`` (a batch), ``register_handler`` (an
outbox consumer); the API's create (idempotent), per-user read state, retention purge."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from activity_feed.bulk import BulkResult, events_bulk_create
from activity_feed.db import purge_mode
from activity_feed.models import ActivityEvent, EventRead, OutboxEvent, ReadMarker
from activity_feed.publish import Draft, event_tenant_id, publish, register_handler, store_event
from activity_feed.selectors import ReadState, event_get, latest_event_id
from ocx.core import errors

__all__ = [
    "BulkResult",
    "Draft",
    "event_create",
    "event_mark_read",
    "events_bulk_create",
    "events_mark_all_read",
    "events_purge_expired",
    "publish",
    "register_handler",
]

logger = logging.getLogger(__name__)


# --- create -------------------------------------------------------------------------------
def event_create(*, tenant, actor, data: dict[str, Any]) -> tuple[ActivityEvent, bool]:
    """Record one event from the API. The same idempotency key (given, or derived from source
    system, source object id, type and timestamp) returns the first event: ``created`` False."""
    data = dict(data)
    entity_id = "" if data.get("entity_id") is None else str(data["entity_id"])
    data["entity_id"] = entity_id
    if data.get("source_object_id") is None:
        data["source_object_id"] = entity_id
    with transaction.atomic():
        return store_event(tenant=tenant, draft=Draft(**data), actor=actor)


# --- read state -----------------------------------------------------------------------------
def event_mark_read(*, tenant, user, event_id) -> tuple[ActivityEvent, ReadState]:
    """Mark one event read for this user only (idempotent: the first read time is kept)."""
    event = event_get(tenant=tenant, event_id=event_id)
    if event is None:
        raise errors.NotFound(f"Event {event_id} not found.")
    try:
        with transaction.atomic():
            EventRead.objects.for_tenant(event.tenant_id).get_or_create(
                tenant_id=event.tenant_id, user=user, event=event, defaults={"read_at": timezone.now()}
            )
    except IntegrityError:
        pass  # the same user marked it read concurrently: already read
    return event, ReadState()


def events_mark_all_read(*, tenant, user, up_to_id: int | None = None) -> ReadState:
    """Everything up to ``up_to_id`` (default: the newest event) is read for this user; one
    row write whatever the backlog. The mark only moves forward."""
    target = latest_event_id(tenant=tenant) if up_to_id is None else int(up_to_id)
    now = timezone.now()
    tenant_id = event_tenant_id(tenant)
    for attempt in range(2):
        try:
            with transaction.atomic():
                marker, created = (
                    ReadMarker.objects.for_tenant(tenant_id)
                    .select_for_update()
                    .get_or_create(tenant_id=tenant_id, user=user, defaults={"up_to_id": target, "read_at": now})
                )
                if not created and target > marker.up_to_id:
                    marker.up_to_id, marker.read_at = target, now
                    marker.save(update_fields=["up_to_id", "read_at"])
            break
        except IntegrityError:
            if attempt:  # the concurrent creator's row exists now; a second failure is real
                raise
    return ReadState(marker.up_to_id, marker.read_at)


# --- retention ------------------------------------------------------------------------------
def events_purge_expired(*, batch_size: int = 2000, max_batches: int = 50, now: datetime | None = None) -> int:
    """Delete events whose ``expires_at`` has passed (with their outbox and read rows), in
    short batches. The append-only trigger lets these DELETEs through only in purge mode."""
    now = now or timezone.now()
    purged = 0
    for _ in range(max_batches):
        with transaction.atomic():
            ids = list(
                ActivityEvent.objects.all_tenants()
                .filter(expires_at__isnull=False, expires_at__lte=now)
                .order_by("id")
                .values_list("id", flat=True)[:batch_size]
            )
            if not ids:
                break
            OutboxEvent.objects.all_tenants().filter(event_id__in=ids).delete()
            EventRead.objects.all_tenants().filter(event_id__in=ids).delete()
            with purge_mode():
                ActivityEvent.objects.all_tenants().filter(id__in=ids).delete()
        purged += len(ids)
        if len(ids) < batch_size:
            break
    if purged:
        logger.info("purged %d expired events", purged)
    return purged
