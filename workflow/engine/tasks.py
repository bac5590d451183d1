"""Celery tasks of the engine: thin, take ids, call one service."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="workflow.engine.run_activity", ignore_result=True, acks_late=True)
def run_activity(activity_id: int, attempt: int) -> str:
    """One attempt of an automated activity (a duplicate or stale delivery does nothing)."""
    from workflow.engine.services import execute_activity

    return execute_activity(activity_id=activity_id, attempt=attempt)


@shared_task(name="workflow.engine.compensate_instance", ignore_result=True, acks_late=True)
def compensate_instance(instance_id: int) -> list[int]:
    """Run the compensation handlers of a failed or cancelled instance, newest first."""
    from workflow.engine.services import instance_compensate

    return instance_compensate(instance_id=instance_id)


@shared_task(name="workflow.engine.sweep", ignore_result=True)
def sweep() -> dict:
    """Beat: resend lost activities, time out dead attempts, escalate overdue manual steps."""
    from workflow.engine.services import sweep as engine_sweep

    return engine_sweep()
