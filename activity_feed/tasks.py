"""Celery tasks of the event spine: thin, idempotent, each calls one service."""

from celery import shared_task

from activity_feed.outbox import outbox_purge_done, outbox_run
from activity_feed.services import events_purge_expired

MAX_BATCHES = 20


# The registered names are the ones beat schedules and queued messages already use.
@shared_task(name="ocx.tasks.dispatch_outbox", ignore_result=True)
def dispatch_outbox(linger: float = 0.0) -> dict:
    """Drain the outbox. Safe to run concurrently and repeatedly (claims are exclusive). A
    dispatcher woken by a commit lingers (``OCX_OUTBOX_LINGER_MS``) to take the commits that
    follow, instead of one Celery task per event; beat's sweep does not linger."""
    result = outbox_run(linger=linger, max_batches=MAX_BATCHES)
    if result.backlog:
        dispatch_outbox.delay()  # a backlog: go on in a fresh task rather than hold the worker
    return result.__dict__


@shared_task(name="ocx.tasks.purge_outbox", ignore_result=True)
def purge_outbox() -> int:
    """Delete work-queue rows done longer than OUTBOX_RETENTION_HOURS."""
    return outbox_purge_done()


@shared_task(name="activity_feed.purge_expired", ignore_result=True)
def purge_expired() -> int:
    """Retention: delete expired events. Safe to run twice (a second run finds nothing)."""
    return events_purge_expired()
