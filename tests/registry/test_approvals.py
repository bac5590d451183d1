"""Approvals: separation of duties, approver roles, one decision per approval, pending queue."""

import pytest

from ocx.core import errors
from ocx.core.access import Role
from registry import selectors, services
from registry.models import ActivityStatus, ApprovalStatus
from tests.factories import member


def test_nobody_approves_an_activity_they_created(world):
    creator = world.approvers["TECHNICAL"]
    activity = services.activity_create(
        tenant=world.tenant, actor=creator, name="Self", version="1.0.0", ebcl_source="x", owner="o"
    )
    _, approvals = services.activity_request_approval(
        tenant=world.tenant, actor=creator, activity_id=activity.pk, approval_type="TECHNICAL"
    )

    with pytest.raises(errors.PermissionDenied, match="Separation of duties"):
        services.approval_decide(
            tenant=world.tenant,
            actor=creator,
            activity_id=activity.pk,
            approval_id=approvals[0].pk,
            approval_status=ApprovalStatus.APPROVED,
        )


@pytest.mark.parametrize("role", [Role.MEMBER, Role.ADMIN, Role.VIEWER, Role.APPROVER_BUSINESS])
def test_only_the_approver_role_of_that_type_may_decide(world, role):
    activity = world.create()
    _, approvals = services.activity_request_approval(
        tenant=world.tenant, actor=world.creator, activity_id=activity.pk, approval_type="TECHNICAL"
    )
    outsider = member(world.tenant, role)

    with pytest.raises(errors.PermissionDenied):
        services.approval_decide(
            tenant=world.tenant,
            actor=outsider,
            activity_id=activity.pk,
            approval_id=approvals[0].pk,
            approval_status=ApprovalStatus.APPROVED,
        )
    assert world.reload(activity).status == ActivityStatus.REVIEW


def test_owner_role_may_decide_any_type(world):
    activity = world.create()
    _, approvals = services.activity_request_approval(
        tenant=world.tenant, actor=world.creator, activity_id=activity.pk, approval_type="SECURITY"
    )
    owner = member(world.tenant, Role.OWNER)

    _, approval = services.approval_decide(
        tenant=world.tenant,
        actor=owner,
        activity_id=activity.pk,
        approval_id=approvals[0].pk,
        approval_status=ApprovalStatus.APPROVED,
    )

    assert approval.approval_status == ApprovalStatus.APPROVED and approval.decided_by == owner


def test_a_decided_approval_cannot_be_decided_again(world):
    activity = world.create()
    _, approvals = world.request_all(activity)
    world.decide(activity, approvals[0])

    with pytest.raises(errors.Conflict, match="already decided"):
        world.decide(activity, approvals[0], status=ApprovalStatus.REJECTED)


def test_the_same_type_cannot_be_requested_twice_in_a_round(world):
    activity = world.create()
    services.activity_request_approval(
        tenant=world.tenant, actor=world.creator, activity_id=activity.pk, approval_type="COMPLIANCE"
    )

    with pytest.raises(errors.Conflict):
        services.activity_request_approval(
            tenant=world.tenant, actor=world.creator, activity_id=activity.pk, approval_type="COMPLIANCE"
        )


def test_single_type_requests_accumulate_until_all_required_are_granted(world):
    activity = world.create()
    granted = []
    for kind in ("COMPLIANCE", "TECHNICAL", "BUSINESS", "SECURITY"):
        activity, (approval,) = services.activity_request_approval(
            tenant=world.tenant,
            actor=world.creator,
            activity_id=activity.pk,
            approval_type=kind,
            approver_id=f"{kind.lower()}@company.com",
            approver_role=f"{kind.title()} Officer",
        )
        activity, _ = world.decide(activity, approval)
        granted.append(kind)
        expected = ActivityStatus.APPROVED if len(granted) == 4 else ActivityStatus.REVIEW
        assert activity.status == expected


def test_pending_approvals_are_filtered_by_type_and_approver_and_tenant(world):
    first = world.create()
    services.activity_request_approval(
        tenant=world.tenant,
        actor=world.creator,
        activity_id=first.pk,
        approval_type="COMPLIANCE",
        approver_id="compliance@company.com",
    )
    world.request_all(world.create())

    assert selectors.approvals_pending(tenant=world.tenant).count() == 5
    assert selectors.approvals_pending(tenant=world.tenant, approval_type="COMPLIANCE").count() == 2
    assert selectors.approvals_pending(tenant=world.tenant, approver="compliance@company.com").count() == 1
    assert selectors.approvals_pending(tenant=world.other_tenant).count() == 0


def test_viewer_cannot_request_approval(world):
    activity = world.create()

    with pytest.raises(errors.PermissionDenied):
        services.activity_request_approval(tenant=world.tenant, actor=world.viewer, activity_id=activity.pk)
