"""The SLA clock is a state machine of its own: declared transitions, a protected status, the
scan's bulk claim equal to ``breach``; SLA configuration writes publish events; locks in order."""

import inspect
from datetime import timedelta

import pytest
from django.utils import timezone

from activity_feed.models import ActivityEvent
from ocx.core import fsm
from ocx.core.locks import LockOrderError, lock_one, lock_scope
from tests.workflow.factories import make_plan, make_task, move
from workflow import services
from workflow.models import ActionPlan, SLARecord, SLAStatus, Task
from workflow.services.sla import sla_scan

pytestmark = pytest.mark.django_db


def test_clock_transitions_are_declared_on_the_model():
    assert {(e.name, e.source, e.target) for e in fsm.edges(SLARecord)} == {
        ("pause", "running", "paused"),
        ("resume", "paused", "running"),
        ("meet", "running", "met"),
        ("breach", "running", "breached"),
        ("cancel", "running", "cancelled"),
        ("cancel", "paused", "cancelled"),
    }
    assert fsm.terminal_states(SLARecord) == ["met", "breached", "cancelled"]


def test_clock_status_cannot_be_set_by_hand(tenant, member_user):
    record = make_task(tenant, creator=member_user, task_type="intake").sla
    with pytest.raises(AttributeError):
        record.status = SLAStatus.MET
    record.refresh_from_db()  # FSMModelMixin: a protected field still refreshes
    assert record.status == SLAStatus.RUNNING


def test_task_moves_drive_the_clock_transitions(tenant, member_user):
    task = make_task(tenant, creator=member_user, task_type="intake")
    statuses = []
    for state in ("blocked", "in_progress", "blocked", "cancelled"):
        task = move(task, state, actor=member_user)
        statuses.append(SLARecord.objects.for_tenant(tenant).get(task=task).status)
    assert statuses == ["paused", "running", "paused", "cancelled"]
    record = SLARecord.objects.for_tenant(tenant).get(task=task)
    assert record.paused_at is None and record.completed_at is not None and record.actual_minutes is not None


def test_scan_claim_is_the_breach_transition_in_bulk(tenant, member_user):
    # given an overdue running clock
    task = make_task(tenant, creator=member_user, task_type="intake")
    SLARecord.objects.for_tenant(tenant).filter(task=task).update(due_at=timezone.now() - timedelta(hours=2))
    in_memory = SLARecord.objects.for_tenant(tenant).get(task=task)

    # when the method runs on one copy (not saved) and the scan claims the row
    in_memory.breach()
    assert sla_scan().breached == 1
    scanned = SLARecord.objects.for_tenant(tenant).get(task=task)

    # then both took the declared edge running → breached, with the same effect
    assert fsm.edge_for(SLARecord, source=SLAStatus.RUNNING, name="breach").target == SLAStatus.BREACHED
    fields = ("status", "breached_at", "completed_at", "actual_minutes", "due_at")
    assert [getattr(scanned, f) for f in fields] == [getattr(in_memory, f) for f in fields]


def test_sla_config_writes_publish_events(tenant, admin_user):
    config = services.sla_config_create(
        tenant=tenant, actor=admin_user, service_area="a", task_type="b", target_minutes=5
    )
    services.sla_config_update(tenant=tenant, actor=admin_user, config_id=config.pk, target_minutes=9)
    services.sla_config_delete(tenant=tenant, actor=admin_user, config_id=config.pk)

    events = ActivityEvent.objects.for_tenant(tenant).filter(entity_type="sla_config").order_by("id")
    assert [e.type for e in events] == [
        "workflow.sla_config.created",
        "workflow.sla_config.updated",
        "workflow.sla_config.deleted",
    ]
    assert {e.entity_id for e in events} == {str(config.pk)}
    assert [e.event_metadata["target_minutes"] for e in events] == [5, 9, 9]
    assert events[1].event_metadata["changed"] == ["target_minutes"]
    assert all(e.user_id == admin_user.pk for e in events)


def test_refused_sla_config_write_publishes_nothing(tenant, admin_user):
    from ocx.core import errors

    body = {"service_area": "a", "task_type": "b", "target_minutes": 5}
    services.sla_config_create(tenant=tenant, actor=admin_user, **body)
    with pytest.raises(errors.Conflict):
        services.sla_config_create(tenant=tenant, actor=admin_user, **body)
    assert ActivityEvent.objects.for_tenant(tenant).filter(type="workflow.sla_config.created").count() == 1


def test_trigger_writes_publish_events_without_secrets(tenant):
    actions = [{"action_type": "webhook", "parameters": {"url": "https://example.com/h", "secret": "s3cret"}}]
    trigger = services.trigger_create(tenant=tenant, name="hook", event_type="workflow.task.blocked", actions=actions)
    services.trigger_update(trigger_id=trigger.pk, is_active=False)

    events = ActivityEvent.objects.for_tenant(tenant).filter(entity_type="trigger").order_by("id")
    assert [e.type for e in events] == ["workflow.trigger.created", "workflow.trigger.updated"]
    assert events[1].event_metadata["is_active"] is False and events[1].event_metadata["changed"] == ["is_active"]
    assert all("s3cret" not in str(e.event_metadata) for e in events)


def test_workflow_services_follow_the_one_recipe():
    from workflow.services import action_plans, sla, tasks, triggers

    writers = [
        tasks.task_create, tasks.task_transition,
        action_plans.action_plan_create, action_plans.action_plan_transition,
        action_plans.action_plan_activate, action_plans.action_plan_archive,
        sla.sla_config_create, sla.sla_config_update, sla.sla_config_delete,
        sla.sla_breaches_mark, sla.sla_warnings_mark,
        triggers.trigger_create, triggers.trigger_update,
    ]  # fmt: skip
    for func in writers:
        assert getattr(func, "is_service", False), func.__name__
        assert "actor" in inspect.signature(func).parameters, func.__name__


def test_lock_order_is_plan_then_task_then_clock(tenant, member_user):
    assert ActionPlan.lock_order < Task.lock_order < SLARecord.lock_order
    plan = make_plan(tenant)
    task = make_task(tenant, creator=member_user, action_plan_id=plan.pk)
    from django.db import transaction

    with transaction.atomic(), lock_scope():
        lock_one(SLARecord.objects.for_tenant(tenant).filter(task=task))
        with pytest.raises(LockOrderError):
            lock_one(Task.objects.for_tenant(tenant).filter(pk=task.pk))
    with transaction.atomic(), lock_scope():
        lock_one(ActionPlan.objects.for_tenant(tenant).filter(pk=plan.pk))
        lock_one(Task.objects.for_tenant(tenant).filter(pk=task.pk))
        lock_one(SLARecord.objects.for_tenant(tenant).filter(task=task))
