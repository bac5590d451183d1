"""Bulk ingestion: store a normalised batch in a constant number of statements.

PostgreSQL: ONE ``INSERT … SELECT FROM unnest(<22 column arrays>) ON CONFLICT (tenant_id,
idempotency_key) DO NOTHING RETURNING id, idempotency_key`` — 22 array parameters whatever the
batch size (a multi-row VALUES list would need 22 per row, parsed and adapted one by one) —
then ONE unnest INSERT of the outbox rows. A duplicate, even a concurrent one, is skipped by
the database, not an error. Other databases use ``bulk_create(ignore_conflicts=True)``.
After commit the batch is pushed live as one channel message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.utils import timezone

from activity_feed.models import ActivityEvent, OutboxEvent
from activity_feed.publish import Draft, after_commit_batch, event_values
from ocx.core import errors


def max_batch() -> int:
    return int(settings.OCX_INGEST_MAX_BATCH)


@dataclass
class BulkResult:
    received: int = 0
    created: int = 0
    duplicates: int = 0
    event_ids: list[int] = field(default_factory=list)


# Column order of the unnest INSERT, with each array's SQL type.
COLUMNS = [
    ("tenant_id", "bigint"), ("event_id", "uuid"), ("type", "text"), ("source", "text"), ("status", "text"),
    ("priority", "text"), ("source_system", "text"), ("source_object_id", "text"), ("source_object_type", "text"),
    ("title", "text"), ("description", "text"), ("event_metadata", "text"), ("entity_id", "text"),
    ("entity_type", "text"), ("user_name", "text"), ("timestamp", "timestamptz"), ("created_at", "timestamptz"),
    ("idempotency_key", "text"), ("tags", "text"), ("correlation_id", "text"),
]  # fmt: skip
JSON_COLUMNS = {"event_metadata", "tags"}


def events_bulk_create(*, tenant, drafts: list[Draft]) -> BulkResult:
    """Store a batch atomically (all or nothing), skipping events already stored (by key)."""
    from ocx.core.models import Tenant

    if len(drafts) > max_batch():
        raise errors.ValidationError("Batch too large.", details={"max_events": max_batch(), "received": len(drafts)})
    tenant = tenant if isinstance(tenant, Tenant) else Tenant.objects.get(pk=tenant)
    now = timezone.now()
    rows: dict[str, dict] = {}
    for draft in drafts:
        values = event_values(tenant.pk, draft, now=now)
        rows.setdefault(values["idempotency_key"], values)  # a key repeated inside a batch is one event
    result = BulkResult(received=len(drafts))
    if not rows:
        return result
    with transaction.atomic():
        insert = _insert_unnest if connection.vendor == "postgresql" else _insert_orm
        created = insert(tenant.pk, list(rows.values()))
        missing = [k for k in rows if k not in created]
        existing = (
            dict(
                ActivityEvent.objects.for_tenant(tenant)
                .filter(idempotency_key__in=missing)
                .values_list("idempotency_key", "id")
            )
            if missing
            else {}
        )
        fresh = sorted(((pk, rows[key]) for key, pk in created.items()), key=lambda item: item[0])
        _insert_outbox(tenant.pk, fresh, now)
        if fresh:
            pushed = [_as_dict(pk, values, tenant.slug) for pk, values in fresh]
            transaction.on_commit(lambda: after_commit_batch(tenant.pk, pushed))
    result.created = len(created)
    result.duplicates = result.received - result.created
    result.event_ids = [existing.get(k) or created.get(k) for k in rows]
    return result


def _json(value) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, separators=(",", ":"))


def _insert_unnest(tenant_id: int, rows: list[dict]) -> dict[str, int]:
    names = ", ".join(connection.ops.quote_name(name) for name, _ in COLUMNS)
    arrays = ", ".join(f"%b::{sql_type}[]" for _, sql_type in COLUMNS)
    select = ", ".join(f"u.{name}::jsonb" if name in JSON_COLUMNS else f"u.{name}" for name, _ in COLUMNS)
    aliases = ", ".join(name for name, _ in COLUMNS)
    params = [
        [_json(row[name]) for row in rows] if name in JSON_COLUMNS else [row[name] for row in rows]
        for name, _ in COLUMNS
    ]
    sql = (
        f"INSERT INTO {ActivityEvent._meta.db_table} ({names}) "
        f"SELECT {select} FROM unnest({arrays}) AS u({aliases}) "
        "ON CONFLICT (tenant_id, idempotency_key) DO NOTHING RETURNING id, idempotency_key"
    )
    import psycopg

    connection.ensure_connection()
    # A server-side-binding cursor on Django's connection (same transaction) with binary
    # parameters: length-prefixed array elements instead of per-character text escaping.
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params)
        return {key: pk for pk, key in cursor.fetchall()}


def _insert_orm(tenant_id: int, rows: list[dict]) -> dict[str, int]:
    keys = [r["idempotency_key"] for r in rows]
    before = set(
        ActivityEvent.objects.for_tenant(tenant_id)
        .filter(idempotency_key__in=keys)
        .values_list("idempotency_key", flat=True)
    )
    fresh = [ActivityEvent(**r) for r in rows if r["idempotency_key"] not in before]
    ActivityEvent.objects.bulk_create(fresh, ignore_conflicts=True, batch_size=500)
    return dict(
        ActivityEvent.objects.for_tenant(tenant_id)
        .filter(idempotency_key__in=[e.idempotency_key for e in fresh])
        .values_list("idempotency_key", "id")
    )


def _insert_outbox(tenant_id: int, fresh: list[tuple[int, dict]], now: datetime) -> None:
    if not fresh:
        return
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {OutboxEvent._meta.db_table} "
                "(tenant_id, event_id, event_type, status, attempts, available_at, claimed_by, last_error, created_at) "
                "SELECT %s, u.event_id, u.event_type, 'pending', 0, %s, '', '', %s "
                "FROM unnest(%s::bigint[], %s::text[]) AS u(event_id, event_type) ON CONFLICT (event_id) DO NOTHING",
                [tenant_id, now, now, [pk for pk, _ in fresh], [v["type"] for _, v in fresh]],
            )
        return
    OutboxEvent.objects.bulk_create(
        [OutboxEvent(tenant_id=tenant_id, event_id=pk, event_type=v["type"], available_at=now) for pk, v in fresh],
        ignore_conflicts=True,
        batch_size=500,
    )


def _iso(moment: datetime) -> str:
    """What DRF's DateTimeField renders (UTC, ``Z``), without its per-call overhead."""
    text = timezone.localtime(moment, UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _as_dict(pk: int, values: dict, tenant_slug: str) -> dict:
    """The wire shape (``serializers.event_to_dict``) built from the inserted values."""
    return {
        "id": pk,
        "event_id": str(values["event_id"]),
        "tenant_id": tenant_slug,
        "type": values["type"],
        "source": values["source"],
        "status": str(values["status"]),
        "priority": values["priority"],
        "source_system": values["source_system"],
        "source_object_id": values["source_object_id"],
        "source_object_type": values["source_object_type"],
        "title": values["title"],
        "description": values["description"],
        "event_metadata": values["event_metadata"],
        "entity_id": values["entity_id"],
        "entity_type": values["entity_type"],
        "user_id": None,
        "user_name": values["user_name"],
        "timestamp": _iso(values["timestamp"]),
        "created_at": _iso(values["created_at"]),
        "expires_at": None,
        "idempotency_key": values["idempotency_key"],
        "read": False,
        "read_at": None,
        "tags": values["tags"],
        "correlation_id": values["correlation_id"],
    }
