"""The outbox dispatcher: claim a batch, run every handler on each event, settle each row.

Claiming is one statement (``ocx.core.db.claim_due_rows``: ``UPDATE … FROM (SELECT … FOR
UPDATE SKIP LOCKED) RETURNING`` on PostgreSQL, a conditional claim-by-update on SQLite). A claim is a lease: if the worker dies mid-batch, its rows are reclaimed once the lease
runs out, so no event is ever lost (handlers are idempotent: an event may be seen twice).
Handlers run outside any claim transaction; a failure is retried with exponential backoff and
the row is marked dead after ``OUTBOX_MAX_ATTEMPTS``.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import traceback
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from activity_feed import metrics
from activity_feed.models import ActivityEvent, OutboxEvent, OutboxStatus
from activity_feed.publish import handlers
from ocx.core.db import Due, claim_due_rows

logger = logging.getLogger(__name__)


@dataclass
class DispatchResult:
    claimed: int = 0
    done: int = 0
    retried: int = 0
    dead: int = 0
    backlog: bool = False  # it stopped after its last batch with rows still due

    def __add__(self, later: DispatchResult) -> DispatchResult:
        return DispatchResult(
            claimed=self.claimed + later.claimed,
            done=self.done + later.done,
            retried=self.retried + later.retried,
            dead=self.dead + later.dead,
            backlog=later.backlog,
        )


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


# Each branch walks its own partial index IN INDEX ORDER (an ordered index scan, not the bitmap
# scan an OR of both would get): an index scan marks the entries of rows that left the queue as
# dead the first time it meets them, so until VACUUM removes them later claims skip them instead
# of visiting their heap rows again (with an OR, every claim re-read every row settled since the
# last VACUUM: ~15 ms per claim after 100k events). Statuses are literals so the planner matches
# the partial indexes.
_DUE = (
    Due(where=f"status = '{OutboxStatus.PENDING}' AND available_at <= %(now)s", order="available_at, id"),
    Due(where=f"status = '{OutboxStatus.PROCESSING}' AND locked_until < %(now)s", order="locked_until"),
)


def outbox_claim(*, claimer: str, batch_size: int | None = None) -> list[int]:
    """Claim up to ``batch_size`` due rows (pending and due, or leased by a claimer whose lease
    ran out) for ``claimer``; another claimer never gets the same row."""
    now = timezone.now()
    rows = claim_due_rows(
        OutboxEvent,
        due=_DUE,
        set_sql=f"status = '{OutboxStatus.PROCESSING}', claimed_by = %(claimer)s, "
        "locked_until = %(lease_until)s, attempts = attempts + 1",
        params={
            "now": now,
            "claimer": claimer,
            "lease_until": now + timedelta(seconds=settings.OUTBOX_LEASE_SECONDS),
        },
        limit=batch_size or settings.OUTBOX_BATCH_SIZE,
    )
    return sorted(row[0] for row in rows)


def _settle_successes(row_ids: list[int], claimer: str) -> int:
    """Mark a batch's handled rows done in ONE statement (one commit, not one per event). A
    worker that dies before this leaves them claimed: they are reprocessed after the lease,
    which at-least-once handlers allow."""
    if not row_ids:
        return 0
    return (
        OutboxEvent.objects.all_tenants()
        .filter(id__in=row_ids, claimed_by=claimer, status=OutboxStatus.PROCESSING)
        .update(status=OutboxStatus.DONE, processed_at=timezone.now(), locked_until=None, last_error="")
    )


def _settle_failure(row: OutboxEvent, claimer: str, error: str) -> str:
    dead = row.attempts >= settings.OUTBOX_MAX_ATTEMPTS
    delay = settings.OUTBOX_BACKOFF_SECONDS * (2 ** max(row.attempts - 1, 0))
    status = OutboxStatus.DEAD if dead else OutboxStatus.PENDING
    OutboxEvent.objects.all_tenants().filter(id=row.id, claimed_by=claimer, status=OutboxStatus.PROCESSING).update(
        status=status,
        available_at=timezone.now() + timedelta(seconds=delay),
        locked_until=None,
        last_error=error[-4000:],
    )
    return status


def process_event(event: ActivityEvent) -> None:
    """Run every registered handler on one event; the first failure aborts (and is retried)."""
    for handler in handlers():
        handler(event)


def outbox_dispatch(*, batch_size: int | None = None, max_batches: int = 20) -> DispatchResult:
    """Dispatch due outbox rows until none are left (or ``max_batches`` batches are done)."""
    claimer = worker_id()
    batch_size = batch_size or settings.OUTBOX_BATCH_SIZE
    result = DispatchResult()
    for _ in range(max_batches):
        ids = outbox_claim(claimer=claimer, batch_size=batch_size)
        if not ids:
            return result
        result.claimed += len(ids)
        rows = (
            OutboxEvent.objects.all_tenants().filter(id__in=ids).select_related("event", "event__tenant").order_by("id")
        )
        succeeded: list[OutboxEvent] = []
        for row in rows:
            try:
                process_event(row.event)
            except Exception:  # noqa: BLE001 - recorded on the row and retried, never lost
                logger.exception("outbox event %s (%s) failed", row.id, row.event_type)
                status = _settle_failure(row, claimer, traceback.format_exc())
                metrics.OUTBOX_PROCESSED.labels(event_type=row.event_type, status=status).inc()
                if status == OutboxStatus.DEAD:
                    result.dead += 1
                else:
                    result.retried += 1
                continue
            succeeded.append(row)
        result.done += _settle_successes([row.id for row in succeeded], claimer)
        for row in succeeded:
            metrics.OUTBOX_PROCESSED.labels(event_type=row.event_type, status="done").inc()
        if len(ids) < batch_size:
            # A short batch drained what was due when it was claimed; a row committed since then
            # has woken a dispatcher of its own (``outbox_wake``), so no further empty claim.
            return result
    result.backlog = True  # max_batches full batches: more are probably due
    return result


# At most one dispatcher waiting in the queue: a commit enqueues one only if none is pending.
# The dispatcher clears the flag before its LAST claim, so an event committed after the clear
# wakes a new one, and an event committed before it is seen by that claim: no wake-up is lost.
# Until then (while it lingers) commits enqueue nothing: the running dispatcher polls for them.
# (If the flag's holder vanished, the flag expires and beat's sweep runs meanwhile.)
WAKE_KEY = "ocx:outbox:wake"
LINGER_POLL_SECONDS = 0.1  # while lingering: dispatch delay at most this, several events a claim


def outbox_wake() -> bool:
    """Enqueue the dispatcher unless one is already queued or lingering."""
    from django.core.cache import cache

    from activity_feed.tasks import dispatch_outbox

    if not cache.add(WAKE_KEY, 1, timeout=30):
        return False
    # Run inline (eager, for debugging), a dispatcher must not hold up its caller.
    linger = 0.0 if dispatch_outbox.app.conf.task_always_eager else settings.OUTBOX_LINGER_MS / 1000
    dispatch_outbox.delay(linger=linger)
    return True


def outbox_woken() -> None:
    """Clear the wake flag: commits from now on enqueue a new dispatcher."""
    from django.core.cache import cache

    cache.delete(WAKE_KEY)


def outbox_run(*, linger: float = 0.0, max_batches: int = 20) -> DispatchResult:
    """What one dispatcher task does: drain, and with ``linger`` seconds keep polling for new
    rows that long (at a steady stream of commits: one task per linger period, not one per
    event, and fuller batches). Then clear the wake flag and drain once more."""
    total = DispatchResult()
    try:
        deadline = time.monotonic() + linger
        while linger > 0:
            result = outbox_dispatch(max_batches=max_batches)
            total = total + result
            if result.backlog or time.monotonic() >= deadline:
                break
            if not result.claimed:
                time.sleep(LINGER_POLL_SECONDS)
    finally:
        outbox_woken()  # also when a claim failed: the next commit must be able to wake one
    return total + outbox_dispatch(max_batches=max_batches)


def outbox_purge_done(*, older_than: timedelta | None = None, batch_size: int = 5_000) -> int:
    """Retention of the work queue: delete rows DONE longer than ``OUTBOX_RETENTION_HOURS``
    (the events themselves stay). Keeps the queue's indexes small; idempotent."""
    hours = older_than or timedelta(hours=settings.OUTBOX_RETENTION_HOURS)
    cutoff = timezone.now() - hours
    deleted = 0
    while True:
        ids = list(
            OutboxEvent.objects.all_tenants()
            .filter(status=OutboxStatus.DONE, processed_at__lt=cutoff)
            .values_list("id", flat=True)[:batch_size]
        )
        if not ids:
            return deleted
        deleted += OutboxEvent.objects.all_tenants().filter(id__in=ids).delete()[0]


def outbox_retry_dead(*, tenant, row_ids: list[int]) -> int:
    """Give dead rows a fresh set of attempts (an operator's action after fixing the cause)."""
    return (
        OutboxEvent.objects.for_tenant(tenant)
        .filter(id__in=row_ids, status=OutboxStatus.DEAD)
        .update(status=OutboxStatus.PENDING, attempts=0, available_at=timezone.now(), last_error="")
    )
