"""The activity lifecycle DRAFT → REVIEW → APPROVED → DEPLOYED → ACTIVE → SUSPENDED → RETIRED,
every transition through its service, every illegal move refused with INVALID_TRANSITION."""

import pytest

from activity_feed.models import ActivityEvent
from ocx.core import errors
from registry import services
from registry.models import ActivityStatus as S
from registry.models import ApprovalStatus, DeploymentStatus


def test_new_activity_is_a_draft_with_its_initial_version_record(world):
    activity = world.create(name="PO_Approval")

    assert activity.status == S.DRAFT
    assert activity.version_record.change_summary == "Initial version"
    assert activity.execution_stats.total_executions == 0


def test_request_approval_moves_draft_to_review_and_opens_a_round(world):
    activity = world.create()

    activity, approvals = world.request_all(activity)

    assert activity.status == S.REVIEW
    assert activity.review_round == 1
    assert sorted(a.approval_type for a in approvals) == ["BUSINESS", "COMPLIANCE", "SECURITY", "TECHNICAL"]


def test_activity_is_approved_only_when_every_required_type_is_granted(world):
    activity = world.create()
    _, approvals = world.request_all(activity)

    for approval in approvals[:-1]:
        activity, _ = world.decide(activity, approval)
        assert activity.status == S.REVIEW
    activity, _ = world.decide(activity, approvals[-1])

    assert activity.status == S.APPROVED


def test_required_types_are_configurable(world, settings):
    settings.OCX_REGISTRY_REQUIRED_APPROVALS = ["TECHNICAL"]
    activity = world.create()

    activity, approvals = world.request_all(activity)
    activity, _ = world.decide(activity, approvals[0])

    assert [a.approval_type for a in approvals] == ["TECHNICAL"]
    assert activity.status == S.APPROVED


def test_rejection_sends_back_to_draft_and_voids_the_round(world):
    activity = world.create()
    _, approvals = world.request_all(activity)
    world.decide(activity, approvals[0])

    activity, rejected = world.decide(activity, approvals[1], status=ApprovalStatus.REJECTED, comments="no")

    assert activity.status == S.DRAFT
    statuses = {a.approval_type: a.approval_status for a in activity.approvals.all()}
    assert statuses[approvals[0].approval_type] == ApprovalStatus.APPROVED
    assert statuses[approvals[1].approval_type] == ApprovalStatus.REJECTED
    assert {statuses[a.approval_type] for a in approvals[2:]} == {ApprovalStatus.VOID}


def test_a_new_round_after_rejection_needs_every_approval_again(world):
    activity = world.create()
    _, approvals = world.request_all(activity)
    world.decide(activity, approvals[0], status=ApprovalStatus.REJECTED)

    activity, second = world.request_all(activity)

    assert activity.review_round == 2 and activity.status == S.REVIEW
    assert len(second) == 4


def test_deploy_effective_now_makes_the_activity_active(world):
    activity = world.approved()

    deployment = world.deploy(activity, "PROD")

    assert deployment.status == DeploymentStatus.ACTIVE
    assert world.reload(activity).status == S.ACTIVE


def test_suspend_ends_every_active_deployment_at_once(world):
    activity = world.active("PROD")
    world.deploy(activity, "STAGING")

    activity = services.activity_suspend(
        tenant=world.tenant, actor=world.admin, activity_id=activity.pk, reason="Policy violation detected"
    )

    assert activity.status == S.SUSPENDED
    assert set(activity.deployments.values_list("status", flat=True)) == {DeploymentStatus.SUSPENDED}


def test_suspended_activity_needs_explicit_reactivation_before_deploying_again(world):
    activity = world.active()
    services.activity_suspend(tenant=world.tenant, actor=world.admin, activity_id=activity.pk, reason="incident")

    with pytest.raises(errors.InvalidTransition):
        world.deploy(activity)
    activity = services.activity_reactivate(tenant=world.tenant, actor=world.admin, activity_id=activity.pk)
    world.deploy(activity)

    assert world.reload(activity).status == S.ACTIVE


def test_retired_activity_is_final(world):
    activity = world.active()

    activity = services.activity_retire(
        tenant=world.tenant, actor=world.admin, activity_id=activity.pk, reason="replaced"
    )

    assert activity.status == S.RETIRED
    assert not activity.deployments.filter(status=DeploymentStatus.ACTIVE).exists()
    for call in (
        lambda: services.activity_reactivate(tenant=world.tenant, actor=world.admin, activity_id=activity.pk),
        lambda: services.activity_suspend(tenant=world.tenant, actor=world.admin, activity_id=activity.pk, reason="x"),
        lambda: world.deploy(activity),
    ):
        with pytest.raises(errors.InvalidTransition) as exc:
            call()
        assert exc.value.details["current_state"] == S.RETIRED


@pytest.mark.parametrize(
    "status, call, target",
    [
        (S.DRAFT, "deploy", S.DEPLOYED),
        (S.DRAFT, "suspend", S.SUSPENDED),
        (S.DRAFT, "reactivate", S.APPROVED),
        (S.REVIEW, "deploy", S.DEPLOYED),
        (S.REVIEW, "suspend", S.SUSPENDED),
        (S.APPROVED, "request", S.REVIEW),
        (S.ACTIVE, "request", S.REVIEW),
        (S.ACTIVE, "reactivate", S.APPROVED),
    ],
)
def test_illegal_transitions_are_refused_with_current_and_target_state(world, status, call, target):
    activity = {
        S.DRAFT: world.create,
        S.REVIEW: lambda: world.request_all(world.create())[0],
        S.APPROVED: world.approved,
        S.ACTIVE: world.active,
    }[status]()
    calls = {
        "deploy": lambda: world.deploy(activity),
        "suspend": lambda: services.activity_suspend(
            tenant=world.tenant, actor=world.admin, activity_id=activity.pk, reason="x"
        ),
        "reactivate": lambda: services.activity_reactivate(
            tenant=world.tenant, actor=world.admin, activity_id=activity.pk
        ),
        "request": lambda: world.request_all(activity),
    }

    with pytest.raises(errors.InvalidTransition) as exc:
        calls[call]()

    assert exc.value.details == {"current_state": status, "target_state": target, "entity_type": "activity"}
    assert world.reload(activity).status == status


def test_every_transition_publishes_its_event_and_history_row(world, django_capture_on_commit_callbacks):
    activity = world.active()
    services.activity_suspend(tenant=world.tenant, actor=world.admin, activity_id=activity.pk, reason="incident")

    types = list(
        ActivityEvent.objects.for_tenant(world.tenant)
        .filter(entity_id=str(activity.pk))
        .order_by("id")
        .values_list("type", flat=True)
    )
    for expected in (
        "registry.activity.created",
        "registry.activity.submitted",
        "registry.approval.requested",
        "registry.approval.granted",
        "registry.activity.approved",
        "registry.activity.deployed",
        "registry.activity.activated",
        "registry.activity.suspended",
    ):
        assert expected in types
    statuses = [h.status for h in activity.history.order_by("history_id")]
    assert statuses[0] == S.DRAFT and statuses[-1] == S.SUSPENDED
    assert S.APPROVED in statuses and S.ACTIVE in statuses
    assert activity.history.latest().history_user == world.admin


def test_a_failed_transition_writes_nothing(world):
    activity = world.create()
    events_before = ActivityEvent.objects.for_tenant(world.tenant).count()

    with pytest.raises(errors.InvalidTransition):
        world.deploy(activity)

    assert ActivityEvent.objects.for_tenant(world.tenant).count() == events_before
    assert not activity.deployments.exists()
