"""ActionPlan state machine: draft → active → archived, draft → archived; guard: needs a goal."""

import itertools

import pytest

from ocx.core import errors
from tests.workflow.factories import make_plan
from workflow import services
from workflow.models import ActionPlanState, StateTransition

pytestmark = pytest.mark.django_db

ALLOWED = {("draft", "active"), ("draft", "archived"), ("active", "archived")}
PATHS = {"draft": [], "active": ["active"], "archived": ["archived"]}


def _plan_in(tenant, actor, state):
    plan = make_plan(tenant, creator=actor)
    for target in PATHS[state]:
        plan, _ = services.action_plan_transition(tenant=tenant, plan_id=plan.pk, target_state=target, actor=actor)
    return plan


@pytest.mark.parametrize("source,target", sorted(ALLOWED))
def test_allowed(tenant, admin_user, source, target):
    plan = _plan_in(tenant, admin_user, source)
    plan, record = services.action_plan_transition(
        tenant=tenant, plan_id=plan.pk, target_state=target, actor=admin_user
    )
    assert plan.state == target and (record.from_state, record.to_state) == (source, target)


@pytest.mark.parametrize(
    "source,target", sorted(set(itertools.product(ActionPlanState.values, ActionPlanState.values)) - ALLOWED)
)
def test_refused(tenant, admin_user, source, target):
    plan = _plan_in(tenant, admin_user, source)
    with pytest.raises(errors.InvalidTransition) as caught:
        services.action_plan_transition(tenant=tenant, plan_id=plan.pk, target_state=target, actor=admin_user)
    assert caught.value.details == {"current_state": source, "target_state": target, "entity_type": "ActionPlan"}
    plan.refresh_from_db()
    assert plan.state == source


def test_plan_without_goals_cannot_be_activated(tenant, admin_user):
    plan = make_plan(tenant, creator=admin_user, goals=())
    with pytest.raises(errors.InvalidTransition) as caught:
        services.action_plan_activate(tenant=tenant, plan_id=plan.pk, actor=admin_user)
    assert caught.value.details["failed_guards"] == ["plan_has_goals"]
    # archiving without activation stays possible
    assert services.action_plan_archive(tenant=tenant, plan_id=plan.pk, actor=admin_user)[0].state == "archived"


def test_member_may_create_but_not_activate(tenant, member_user):
    plan = make_plan(tenant, creator=member_user)
    with pytest.raises(errors.PermissionDenied):
        services.action_plan_activate(tenant=tenant, plan_id=plan.pk, actor=member_user)


def test_transitions_are_recorded_with_events(tenant, admin_user):
    from activity_feed.models import ActivityEvent

    plan = _plan_in(tenant, admin_user, "active")
    record = StateTransition.objects.for_tenant(tenant).get(entity_type="action_plan", entity_id=plan.pk)
    assert ActivityEvent.objects.for_tenant(tenant).get(pk=record.event_id).type == "workflow.action_plan.activated"


def test_tasks_cannot_join_archived_plan(tenant, admin_user):
    plan = _plan_in(tenant, admin_user, "archived")
    with pytest.raises(errors.ValidationError):
        services.task_create(tenant=tenant, actor=admin_user, title="t", action_plan_id=plan.pk)
