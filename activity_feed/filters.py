"""The feed's filters, parsed once and applied three ways: to a queryset (list, stats, replay),
and to an already-serialised event (live SSE / WebSocket push), so every channel filters alike.

Query parameters (seed 004's ``ActivityEventFilters`` in snake_case):
``types`` (or ``type``), ``sources`` (or ``source``), ``priority`` (or ``priorities``),
``status``, ``start_date``, ``end_date``, ``entity_type``, ``entity_id``, ``tags`` with
``tags_match=any|all``, ``correlation_id``, ``source_system``, ``read=true|false``, ``search``
(text in the title). List values are comma-separated or repeated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time

from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from activity_feed.models import EventPriority, EventSource, EventStatus
from ocx.core import errors

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off"}


def _getlist(params, *names: str) -> list[str]:
    values: list[str] = []
    for name in names:
        if hasattr(params, "getlist"):
            raw = params.getlist(name)
        else:
            raw = params.get(name)
            raw = raw if isinstance(raw, list) else ([raw] if raw not in (None, "") else [])
        for item in raw:
            values.extend(v.strip() for v in str(item).split(",") if v.strip())
    return values


def _get(params, name: str) -> str:
    value = params.get(name) if params is not None else None
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value).strip() if value not in (None, "") else ""


def parse_moment(value: str, *, end: bool = False, name: str = "start_date") -> datetime:
    """An ISO datetime, or a date (its start, or its end for ``end_date``); else a 400 naming ``name``."""
    try:
        # Django's parsers raise ValueError for a well-formed but impossible value (month 13).
        moment = parse_datetime(value)
        day = parse_date(value) if moment is None else None
    except ValueError:
        moment = day = None
    if moment is None:
        if day is None:
            message = f"{name}: '{value}' is not an ISO date or datetime."
            raise errors.ValidationError(message, details={name: [message]})
        moment = datetime.combine(day, time.max if end else time.min)
    try:
        # Stored and compared in UTC: 9999-12-31T23:59-05:00 has no UTC value.
        return moment.astimezone(UTC) if timezone.is_aware(moment) else timezone.make_aware(moment, UTC)
    except OverflowError:
        message = f"{name}: '{value}' is out of range."
        raise errors.ValidationError(message, details={name: [message]}) from None


def _choices(values: list[str], allowed: list[str], name: str) -> list[str]:
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        message = f"{name}: unknown value {', '.join(repr(v) for v in unknown)}; allowed: {', '.join(allowed)}."
        raise errors.ValidationError(message, details={name: [message]})
    return values


@dataclass
class EventFilters:
    types: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    priorities: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    start_date: datetime | None = None
    end_date: datetime | None = None
    entity_type: str = ""
    entity_id: str = ""
    tags: list[str] = field(default_factory=list)
    tags_match: str = "any"
    correlation_id: str = ""
    source_system: str = ""
    read: bool | None = None
    search: str = ""

    @classmethod
    def from_params(cls, params) -> EventFilters:
        params = params if params is not None else {}
        read_raw = _get(params, "read").lower()
        if read_raw and read_raw not in TRUE | FALSE:
            message = f"read: unknown value {read_raw!r}; allowed: {', '.join(sorted(TRUE | FALSE))}."
            raise errors.ValidationError(message, details={"read": [message]})
        tags_match = (_get(params, "tags_match") or _get(params, "tags_mode") or "any").lower()
        if tags_match not in {"any", "all"}:
            message = f"tags_match: unknown value {tags_match!r}; allowed: any, all."
            raise errors.ValidationError(message, details={"tags_match": [message]})
        start, end = _get(params, "start_date"), _get(params, "end_date")
        return cls(
            types=_getlist(params, "types", "type"),
            sources=_choices(_getlist(params, "sources", "source"), EventSource.values, "sources"),
            priorities=_choices(_getlist(params, "priority", "priorities"), EventPriority.values, "priority"),
            statuses=_choices(_getlist(params, "status"), EventStatus.values, "status"),
            start_date=parse_moment(start) if start else None,
            end_date=parse_moment(end, end=True, name="end_date") if end else None,
            entity_type=_get(params, "entity_type"),
            entity_id=_get(params, "entity_id"),
            tags=_getlist(params, "tags"),
            tags_match=tags_match,
            correlation_id=_get(params, "correlation_id"),
            source_system=_get(params, "source_system"),
            read=None if not read_raw else read_raw in TRUE,
            search=_get(params, "search") or _get(params, "q"),
        )

    # --- querysets ------------------------------------------------------------------------------
    def apply(self, qs):
        """Every filter but ``read`` (which needs the user's read state: see selectors)."""
        if self.types:
            qs = qs.filter(type__in=self.types)
        if self.sources:
            qs = qs.filter(source__in=self.sources)
        if self.priorities:
            qs = qs.filter(priority__in=self.priorities)
        if self.statuses:
            qs = qs.filter(status__in=self.statuses)
        if self.start_date:
            qs = qs.filter(timestamp__gte=self.start_date)
        if self.end_date:
            qs = qs.filter(timestamp__lte=self.end_date)
        if self.entity_type:
            qs = qs.filter(entity_type=self.entity_type)
        if self.entity_id:
            qs = qs.filter(entity_id=self.entity_id)
        if self.correlation_id:
            qs = qs.filter(correlation_id=self.correlation_id)
        if self.source_system:
            qs = qs.filter(source_system=self.source_system)
        if self.search:
            qs = qs.filter(title__icontains=self.search)
        if self.tags:
            conditions = [_has_tag(tag) for tag in self.tags]
            combined = conditions[0]
            for condition in conditions[1:]:
                combined = (combined & condition) if self.tags_match == "all" else (combined | condition)
            qs = qs.filter(combined)
        return qs

    # --- live events (already serialised dicts) ------------------------------------------------
    def matches(self, event: dict) -> bool:
        if self.types and event.get("type") not in self.types:
            return False
        if self.sources and event.get("source") not in self.sources:
            return False
        if self.priorities and event.get("priority") not in self.priorities:
            return False
        if self.statuses and event.get("status") not in self.statuses:
            return False
        if self.start_date or self.end_date:
            moment = parse_datetime(event.get("timestamp") or "")
            if moment is None:
                return False
            if self.start_date and moment < self.start_date:
                return False
            if self.end_date and moment > self.end_date:
                return False
        for name in ("entity_type", "entity_id", "correlation_id", "source_system"):
            wanted = getattr(self, name)
            if wanted and event.get(name) != wanted:
                return False
        if self.search and self.search.lower() not in (event.get("title") or "").lower():
            return False
        if self.tags:
            tags = set(event.get("tags") or [])
            hit = all(t in tags for t in self.tags) if self.tags_match == "all" else any(t in tags for t in self.tags)
            if not hit:
                return False
        # A new event is unread for everyone.
        return self.read is not True


def _has_tag(tag: str) -> Q:
    if connection.vendor == "postgresql":
        return Q(tags__contains=[tag])
    # SQLite has no JSON containment: look through the array with json_each.
    return Q(
        pk__in=RawSQL(
            "SELECT activity_events.id FROM activity_events, json_each(activity_events.tags) WHERE json_each.value = %s",
            (tag,),
        )
    )
