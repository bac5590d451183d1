"""Reads of the event store, always tenant-scoped.

Lists use keyset pagination on ``(timestamp, id)``: the cursor carries the last row's sort key
and the next page is ``WHERE (timestamp, id) < (t, i) ORDER BY timestamp DESC, id DESC LIMIT n``,
one range scan of a ``(tenant, …, timestamp, id)`` index, so page 10,000 costs what page 1 costs.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import connection
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from activity_feed.filters import EventFilters
from activity_feed.models import ActivityEvent, EventRead, OutboxEvent, ReadMarker
from ocx.core import errors
from ocx.core.api.params import INT64_MAX, parse_int

DEFAULT_PAGE_SIZE = 30
MAX_PAGE_SIZE = 100
# ``page`` is an OFFSET of (page - 1) * page_size rows: keep it (and its LIMIT) a bigint.
MAX_PAGE = INT64_MAX // MAX_PAGE_SIZE


# --- read state -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReadState:
    """A user's read-all mark: every event with ``id <= up_to_id`` is read (since ``read_at``)."""

    up_to_id: int = 0
    read_at: datetime | None = None


def read_state_get(*, tenant, user) -> ReadState:
    if user is None or not getattr(user, "is_authenticated", False):
        return ReadState()
    marker = ReadMarker.objects.for_tenant(tenant).filter(user=user).values_list("up_to_id", "read_at").first()
    return ReadState(*marker) if marker else ReadState()


def _explicit_reads(*, tenant, user):
    return EventRead.objects.for_tenant(tenant).filter(user=user, event=OuterRef("pk"))


def with_read_state(qs, *, tenant, user):
    """Annotate ``explicit_read_at``: when the user read the event one by one (else None)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return qs
    return qs.annotate(explicit_read_at=Subquery(_explicit_reads(tenant=tenant, user=user).values("read_at")[:1]))


def filter_read(qs, *, tenant, user, state: ReadState, read: bool):
    explicit = Exists(_explicit_reads(tenant=tenant, user=user))
    if read:
        return qs.filter(Q(id__lte=state.up_to_id) | explicit)
    return qs.filter(id__gt=state.up_to_id).exclude(explicit)


def read_fields(event, state: ReadState) -> dict:
    explicit = getattr(event, "explicit_read_at", None)
    if explicit is not None:
        return {"read": True, "read_at": explicit}
    if event.pk <= state.up_to_id:
        return {"read": True, "read_at": state.read_at}
    return {"read": False, "read_at": None}


# --- queries --------------------------------------------------------------------------------
def event_queryset(*, tenant, filters: EventFilters | None = None, user=None, state: ReadState | None = None):
    filters = filters or EventFilters()
    qs = filters.apply(ActivityEvent.objects.for_tenant(tenant))
    if filters.read is not None and user is not None and getattr(user, "is_authenticated", False):
        qs = filter_read(
            qs, tenant=tenant, user=user, state=state or read_state_get(tenant=tenant, user=user), read=filters.read
        )
    return qs


def event_list(*, tenant, filters=None, user=None):
    """Newest first (the dashboard's view); ``filters`` may be EventFilters or query params."""
    if filters is not None and not isinstance(filters, EventFilters):
        filters = EventFilters.from_params(filters)
    qs = event_queryset(tenant=tenant, filters=filters, user=user).select_related("tenant")
    return qs.order_by("-timestamp", "-id")


def _by_id(qs, event_id):
    """The event with numeric ``id`` or ``event_id`` UUID ``event_id`` in ``qs``, else None."""
    key = str(event_id)
    if key.isascii() and key.isdigit():
        try:
            number = parse_int(key, name="id", minimum=1)
        except errors.ValidationError:
            return None  # beyond the id range: no row has it
        return qs.filter(pk=number).first()
    try:
        return qs.filter(event_id=uuid.UUID(key)).first()
    except ValueError:
        return None


def event_get(*, tenant, event_id) -> ActivityEvent | None:
    return _by_id(ActivityEvent.objects.for_tenant(tenant).select_related("tenant"), event_id)


def event_for_reader(*, tenant, user, event_id) -> tuple[ActivityEvent | None, ReadState]:
    """One event with the caller's read state, in one query (plus the read-all mark)."""
    qs = with_read_state(ActivityEvent.objects.for_tenant(tenant), tenant=tenant, user=user)
    return _by_id(qs.select_related("tenant"), event_id), read_state_get(tenant=tenant, user=user)


# --- keyset pages -----------------------------------------------------------------------------
def encode_cursor(event) -> str:
    raw = f"{event.timestamp.isoformat()}|{event.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, pk = raw.rsplit("|", 1)
        moment = parse_datetime(stamp)
        if moment is None:
            raise ValueError(stamp)
        return moment, parse_int(pk, name="cursor", minimum=0)
    except (ValueError, UnicodeDecodeError, binascii.Error, errors.ValidationError) as exc:
        raise errors.ValidationError("Invalid cursor.", details={"cursor": cursor}) from exc


def _positive_int(value, name: str, maximum: int = INT64_MAX) -> int | None:
    """A query parameter that must be a whole number >= 1 (None when absent); else a 400."""
    return parse_int(value, name=name, minimum=1, maximum=maximum)


def parse_page_size(value) -> int:
    size = _positive_int(value, "page_size")
    return DEFAULT_PAGE_SIZE if size is None else min(size, MAX_PAGE_SIZE)


def parse_page_number(value) -> int | None:
    return _positive_int(value, "page", maximum=MAX_PAGE)


@dataclass
class Page:
    events: list
    next_cursor: str | None
    page_size: int
    state: ReadState


def _after(qs, *, moment: datetime, pk: int, descending: bool):
    """Rows strictly after the cursor in the sort order, as one row-value comparison (an
    index range condition in PostgreSQL, not an OR it would have to filter row by row)."""
    value = connection.ops.adapt_datetimefield_value(moment)
    op = "<" if descending else ">"
    table = ActivityEvent._meta.db_table
    return qs.extra(where=[f'("{table}"."timestamp", "{table}"."id") {op} (%s, %s)'], params=[value, pk])


def event_page(
    *,
    tenant,
    user,
    filters: EventFilters,
    cursor: str | None,
    page_size: int,
    descending: bool = True,
    page: int | None = None,
) -> Page:
    """One page of the feed: the read state (1 query) and the rows (1 query), whatever the depth.

    ``cursor`` is the keyset continuation (constant cost at any depth). ``page`` (1-based) is the
    seed's page-number form, an OFFSET: fine for the first pages a UI shows, linear in depth, so
    deep readers should follow ``next_cursor`` instead; a cursor wins when both are given."""
    state = read_state_get(tenant=tenant, user=user)
    qs = event_queryset(tenant=tenant, filters=filters, user=user, state=state)
    if cursor:
        moment, pk = decode_cursor(cursor)
        qs = _after(qs, moment=moment, pk=pk, descending=descending)
    qs = with_read_state(qs, tenant=tenant, user=user)
    qs = qs.order_by("-timestamp", "-id") if descending else qs.order_by("timestamp", "id")
    offset = (page - 1) * page_size if page and not cursor else 0
    rows = _with_tenant(list(qs[offset : offset + page_size + 1]), tenant)
    has_more = len(rows) > page_size
    rows = rows[:page_size]
    return Page(
        events=rows,
        next_cursor=encode_cursor(rows[-1]) if has_more and rows else None,
        page_size=page_size,
        state=state,
    )


def events_since(*, tenant, after_id: int, filters: EventFilters | None = None, limit: int = 500) -> list:
    """Events with ``id > after_id`` in id (commit) order: stream replay after a reconnect."""
    qs = event_queryset(tenant=tenant, filters=filters)
    return _with_tenant(list(qs.filter(id__gt=after_id).order_by("id")[:limit]), tenant)


def _with_tenant(rows: list, tenant) -> list:
    """Every row is the caller's tenant's: attach it instead of joining and building it per row."""
    if not isinstance(tenant, int):
        for row in rows:
            row.tenant = tenant
    return rows


def latest_event_id(*, tenant) -> int:
    return ActivityEvent.objects.for_tenant(tenant).order_by("-id").values_list("id", flat=True).first() or 0


# --- stats ------------------------------------------------------------------------------------
def event_stats(*, tenant, user, filters: EventFilters, days: int = 30) -> dict:
    """Counts by type, source, priority, unread and per day (per day over the filtered range,
    or the last ``days`` days when no start date is given)."""
    state = read_state_get(tenant=tenant, user=user)
    qs = event_queryset(tenant=tenant, filters=filters, user=user, state=state)

    def counts(column: str) -> dict:
        rows = qs.order_by().values(column).annotate(n=Count("id")).values_list(column, "n")
        return dict(sorted(rows, key=lambda r: (-r[1], r[0])))

    by_type = counts("type")
    unread_qs = filter_read(qs, tenant=tenant, user=user, state=state, read=False) if filters.read is None else qs
    unread = unread_qs.count() if filters.read is not True else 0
    since = filters.start_date or (timezone.now() - timedelta(days=days))
    per_day = (
        qs.filter(timestamp__gte=since)
        .order_by()
        .annotate(day=TruncDate("timestamp"))
        .values("day")
        .annotate(n=Count("id"))
        .values_list("day", "n")
    )
    return {
        "total": sum(by_type.values()),
        "unread": unread,
        "by_type": by_type,
        "by_source": counts("source"),
        "by_priority": counts("priority"),
        "by_day": [{"date": _day(d), "count": n} for d, n in sorted(per_day, key=lambda r: _day(r[0]))],
    }


def _day(value) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def unread_count(*, tenant, user, filters: EventFilters | None = None) -> int:
    state = read_state_get(tenant=tenant, user=user)
    qs = event_queryset(tenant=tenant, filters=filters)
    return filter_read(qs, tenant=tenant, user=user, state=state, read=False).count()


def outbox_backlog(*, tenant) -> dict[str, int]:
    """The tenant's outbox rows not yet done, by status (pending, processing, dead)."""
    return dict(
        OutboxEvent.objects.for_tenant(tenant)
        .exclude(status="done")
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
