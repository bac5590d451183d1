"""The per-hour run counters behind ``/activity/summary`` (``runs.models.RunCounter``).

Every status change of a run shifts its hour's counts in the same transaction, with one
``INSERT … ON CONFLICT DO UPDATE SET n = n + excluded.n`` (PostgreSQL and SQLite alike) on one
of the hour's shards, picked at random. Rows are written in (tenant, hour) order, so two
transactions never wait on each other's rows in opposite orders. Call it last in a service:
it is the one hot row the transaction holds until it commits.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from django.db import connections, router

from runs.models import Run, RunCounter, RunStatus

COLUMNS = tuple(RunStatus.values)  # pending, running, completed, failed, cancelled


def bucket_of(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def shift(changes: Iterable[tuple[int, datetime, str, int]]) -> None:
    """Apply ``(tenant_id, created_at, status, delta)`` changes to the counters."""
    totals: dict[tuple[int, datetime], dict[str, int]] = defaultdict(lambda: dict.fromkeys(COLUMNS, 0))
    for tenant_id, created_at, status, delta in changes:
        totals[(tenant_id, bucket_of(created_at))][status] += delta
    rows = [(key, counts) for key, counts in sorted(totals.items()) if any(counts.values())]
    if not rows:
        return
    connection = connections[router.db_for_write(RunCounter)]
    quote = connection.ops.quote_name
    table = quote(RunCounter._meta.db_table)
    shard = random.randrange(RunCounter.SHARDS)
    columns = ", ".join(quote(c) for c in ("tenant_id", "bucket", "shard", *COLUMNS))
    placeholders = ", ".join(["(" + ", ".join(["%s"] * (3 + len(COLUMNS))) + ")"] * len(rows))
    updates = ", ".join(f"{quote(c)} = {table}.{quote(c)} + excluded.{quote(c)}" for c in COLUMNS)
    params: list = []
    for (tenant_id, bucket), counts in rows:
        params += [tenant_id, connection.ops.adapt_datetimefield_value(bucket), shard, *(counts[c] for c in COLUMNS)]
    sql = (
        f"INSERT INTO {table} ({columns}) VALUES {placeholders} "
        f"ON CONFLICT ({quote('tenant_id')}, {quote('bucket')}, {quote('shard')}) DO UPDATE SET {updates}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def created(runs: Iterable[Run]) -> None:
    shift((r.tenant_id, r.created_at, RunStatus.PENDING, 1) for r in runs)


def moved(runs: Iterable[Run], *, source: str, target: str) -> None:
    """Runs moved from ``source`` to ``target`` (the runs' ``created_at`` picks their hour)."""
    changes = []
    for r in runs:
        changes += [(r.tenant_id, r.created_at, source, -1), (r.tenant_id, r.created_at, target, 1)]
    shift(changes)
