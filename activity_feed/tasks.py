"""Celery tasks of the event spine: thin, idempotent."""

from celery import shared_task

from activity_feed.services import events_purge_expired


@shared_task(name="activity_feed.purge_expired", ignore_result=True)
def purge_expired() -> int:
    """Retention: delete expired events. Safe to run twice (a second run finds nothing)."""
    return events_purge_expired()
