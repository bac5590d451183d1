"""Celery tasks of the workflow: thin, idempotent, each calls one service."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="workflow.scan_sla", ignore_result=True)
def scan_sla() -> dict:
    """Beat job (every SLA_MONITOR_INTERVAL s): mark breaches and at-risk warnings, once each."""
    from workflow.services.sla import sla_scan

    result = sla_scan()
    return result.__dict__


@shared_task(name="workflow.deliver_webhook", ignore_result=True, acks_late=True)
def deliver_webhook(delivery_id: int) -> str:
    """Send one webhook attempt; on failure schedule the next one after the backoff."""
    from workflow.automation.webhooks import webhook_deliver

    outcome = webhook_deliver(delivery_id=delivery_id)
    if outcome.status == "retry" and outcome.retry_in:
        deliver_webhook.apply_async((delivery_id,), countdown=outcome.retry_in)
    return outcome.status


@shared_task(name="workflow.sweep_webhooks", ignore_result=True)
def sweep_webhooks() -> int:
    """Beat safety net: send deliveries whose retry was lost (worker restart, broker loss)."""
    from workflow.automation.webhooks import due_deliveries

    ids = due_deliveries()
    for delivery_id in ids:
        deliver_webhook.delay(delivery_id)
    return len(ids)


# Celery discovers ``<app>.tasks`` only: the engine's tasks register through this import.
from workflow.engine import tasks as engine_tasks  # noqa: E402,F401
