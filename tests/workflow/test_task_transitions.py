"""Every allowed and every refused Task transition of the seed's diagram, and the error body."""

import itertools

import pytest

from ocx.core import errors
from tests.workflow.factories import make_plan, make_task, move, task_in
from workflow import services
from workflow.models import StateTransition, TaskState

pytestmark = pytest.mark.django_db

ALLOWED = {
    ("new", "in_progress"),
    ("new", "blocked"),
    ("new", "cancelled"),
    ("in_progress", "completed"),
    ("in_progress", "blocked"),
    ("in_progress", "cancelled"),
    ("blocked", "in_progress"),
    ("blocked", "cancelled"),
}
ALL_PAIRS = list(itertools.product(TaskState.values, TaskState.values))


@pytest.mark.parametrize("source,target", sorted(ALLOWED))
def test_allowed_transition_moves_task_and_records_it(tenant, member_user, source, target):
    task = task_in(tenant, source, creator=member_user)

    task, record = services.task_transition(
        tenant=tenant, task_id=task.pk, target_state=target, actor=member_user, context={"reason": "r"}, notes="n"
    )

    task.refresh_from_db()
    assert task.state == target
    assert (record.from_state, record.to_state, record.actor, record.context, record.notes) == (
        source, target, member_user, {"reason": "r"}, "n",
    )  # fmt: skip
    assert record.event_id is not None


@pytest.mark.parametrize("source,target", sorted(set(ALL_PAIRS) - ALLOWED))
def test_refused_transition_raises_invalid_transition_and_changes_nothing(tenant, member_user, source, target):
    task = task_in(tenant, source, creator=member_user)
    before = StateTransition.objects.for_tenant(tenant).count()

    with pytest.raises(errors.InvalidTransition) as caught:
        services.task_transition(tenant=tenant, task_id=task.pk, target_state=target, actor=member_user)

    task.refresh_from_db()
    assert task.state == source
    assert StateTransition.objects.for_tenant(tenant).count() == before
    assert caught.value.as_dict() == {
        "success": False,
        "error_code": "INVALID_TRANSITION",
        "message": f"Transition from {source} to {target} not allowed",
        "details": {"current_state": source, "target_state": target, "entity_type": "Task"},
    }


def test_unknown_target_state_is_an_invalid_transition(tenant, member_user):
    task = make_task(tenant, creator=member_user)
    with pytest.raises(errors.InvalidTransition):
        services.task_transition(tenant=tenant, task_id=task.pk, target_state="done", actor=member_user)


def test_guard_refuses_starting_a_task_of_an_archived_plan(tenant, admin_user):
    plan = make_plan(tenant, creator=admin_user)
    task = make_task(tenant, creator=admin_user, action_plan_id=plan.pk)
    services.action_plan_archive(tenant=tenant, plan_id=plan.pk, actor=admin_user)

    with pytest.raises(errors.InvalidTransition) as caught:
        services.task_transition(tenant=tenant, task_id=task.pk, target_state="in_progress", actor=admin_user)

    assert caught.value.details["failed_guards"] == ["plan_not_archived"]
    assert "archived action plan" in caught.value.message


def test_transition_publishes_event_through_outbox(tenant, member_user):
    from activity_feed.models import ActivityEvent, OutboxEvent

    task = make_task(tenant, creator=member_user)
    task, record = services.task_transition(
        tenant=tenant, task_id=task.pk, target_state="in_progress", actor=member_user
    )

    event = ActivityEvent.objects.for_tenant(tenant).get(pk=record.event_id)
    assert event.type == "workflow.task.in_progress"
    assert event.event_metadata["old_state"] == "new"
    assert event.event_metadata["new_state"] == "in_progress"
    assert OutboxEvent.objects.for_tenant(tenant).filter(event=event).exists()


def test_timestamps_follow_the_lifecycle(tenant, member_user):
    task = move(make_task(tenant, creator=member_user), "in_progress", "completed")
    task.refresh_from_db()
    assert task.started_at is not None and task.completed_at is not None


def test_state_cannot_be_assigned_directly(tenant, member_user):
    task = make_task(tenant, creator=member_user)
    with pytest.raises(AttributeError):
        task.state = "completed"
