"""Reads of the event store, always tenant-scoped."""

from __future__ import annotations

from activity_feed.models import ActivityEvent


def event_list(*, tenant, filters: dict | None = None):
    filters = filters or {}
    qs = ActivityEvent.objects.for_tenant(tenant).select_related("tenant")
    if filters.get("type"):
        qs = qs.filter(type__in=[t for t in str(filters["type"]).split(",") if t])
    if filters.get("entity_type"):
        qs = qs.filter(entity_type=filters["entity_type"])
    if filters.get("entity_id"):
        qs = qs.filter(entity_id=filters["entity_id"])
    return qs.order_by("-id")


def event_get(*, tenant, event_id) -> ActivityEvent | None:
    qs = ActivityEvent.objects.for_tenant(tenant).select_related("tenant")
    key = str(event_id)
    if key.isdigit():
        return qs.filter(pk=int(key)).first()
    try:
        import uuid

        return qs.filter(event_id=uuid.UUID(key)).first()
    except ValueError:
        return None
