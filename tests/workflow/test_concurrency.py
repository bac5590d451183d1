"""Races on PostgreSQL: two transitions of one task, two SLA scans over the same breaches."""

from datetime import timedelta

import pytest

from ocx.core import errors
from tests.concurrency import race
from tests.workflow.factories import make_task
from workflow import services
from workflow.models import SLARecord, StateTransition
from workflow.services.sla import sla_scan

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(
    "start,targets",
    [
        ([], ["in_progress"] * 4),  # the same move requested four times at once
        (["in_progress"], ["completed", "cancelled", "completed", "cancelled"]),  # rival terminal moves
    ],
)
def test_concurrent_transitions_exactly_one_wins(tenant, member_user, start, targets):
    task = make_task(tenant, creator=member_user)
    for state in start:
        services.task_transition(tenant=tenant, task_id=task.pk, target_state=state, actor=member_user)

    results = race(
        len(targets),
        lambda i: services.task_transition(tenant=tenant, task_id=task.pk, target_state=targets[i], actor=member_user),
    )

    wins = [r for r in results if isinstance(r, tuple)]
    losses = [r for r in results if isinstance(r, errors.InvalidTransition)]
    assert len(wins) == 1 and len(losses) == len(targets) - 1, results
    task.refresh_from_db()
    assert task.state == wins[0][1].to_state
    assert StateTransition.objects.for_tenant(tenant).filter(entity_id=task.pk).count() == len(start) + 1
    assert all(loss.details["current_state"] == task.state for loss in losses)


def test_concurrent_sla_scans_mark_each_breach_once(tenant, member_user):
    from activity_feed.models import ActivityEvent

    tasks = [make_task(tenant, creator=member_user, task_type="intake") for _ in range(20)]
    for task in tasks:
        record = SLARecord.objects.for_tenant(tenant).get(task=task)
        SLARecord.objects.for_tenant(tenant).filter(pk=record.pk).update(
            due_at=record.due_at - timedelta(hours=2), at_risk_at=record.at_risk_at - timedelta(hours=2)
        )

    results = race(4, lambda i: sla_scan(batch_size=7))
    while (extra := sla_scan()).breached:  # whatever the batches left
        results.append(extra)

    assert sum(r.breached for r in results) == 20
    assert SLARecord.objects.for_tenant(tenant).filter(status="breached").count() == 20
    assert ActivityEvent.objects.for_tenant(tenant).filter(type="workflow.task.sla_breached").count() == 20


def test_concurrent_dispatch_of_one_event_runs_trigger_once(tenant, member_user, monkeypatch):
    from activity_feed.models import ActivityEvent
    from ocx.celery import app
    from tests.workflow.factories import move
    from workflow.automation.dispatcher import handle_event
    from workflow.models import Task

    # keep the automatic (eager) dispatch out of it: the threads below are the dispatchers
    monkeypatch.setattr("workflow.automation.dispatcher.conf.workflow_enabled", lambda: False)
    move(make_task(tenant, creator=member_user, task_type="intake"), "in_progress", "completed")
    monkeypatch.undo()
    assert app.conf.task_always_eager
    event = ActivityEvent.objects.for_tenant(tenant).get(type="workflow.task.completed")

    results = race(4, lambda i: handle_event(event))

    assert not [r for r in results if isinstance(r, Exception)], results
    assert Task.objects.for_tenant(tenant).filter(task_type="assessment").count() == 1
