"""Celery tasks of the shared core: thin, idempotent, each calls one service."""

from celery import shared_task

from ocx.outbox import outbox_dispatch


@shared_task(name="ocx.tasks.dispatch_outbox", ignore_result=True)
def dispatch_outbox() -> dict:
    """Drain the outbox. Safe to run concurrently and repeatedly (claims are exclusive)."""
    result = outbox_dispatch()
    return result.__dict__
