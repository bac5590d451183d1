"""Deployments: supersede and link, one active per slot (in the database), rollback chain,
future activation by the beat job, tenants independent, concurrent deploys."""

import threading
from datetime import timedelta

import pytest
from django.db import IntegrityError, close_old_connections, transaction
from django.utils import timezone

from ocx.core import errors
from ocx.core.access import Role
from registry import services
from registry.models import ActivityStatus as S
from registry.models import Deployment, DeploymentStatus
from registry.tasks import activate_due_deployments
from tests.factories import MembershipFactory


def _next_version(world, activity, version_type="MINOR"):
    new = services.activity_new_version(
        tenant=world.tenant,
        actor=world.creator,
        activity_id=activity.pk,
        version_type=version_type,
        change_summary="change",
        breaking_changes=["x"],
    )
    _, approvals = world.request_all(new)
    for approval in approvals:
        new, _ = world.decide(new, approval)
    return new


def test_new_version_deployment_supersedes_the_previous_and_links_to_it(world):
    v1 = world.active(name="PO_Approval")
    v2 = _next_version(world, v1)

    deployment = world.deploy(v2, "PROD")

    first = v1.deployments.get()
    assert first.status == DeploymentStatus.SUPERSEDED and first.ended_at is not None
    assert deployment.previous_deployment == first
    assert world.reload(v1).status == S.DEPLOYED
    assert world.reload(v2).status == S.ACTIVE


def test_database_refuses_two_active_deployments_in_one_slot(world):
    v1 = world.active(name="PO_Approval")
    current = v1.deployments.get()

    with pytest.raises(IntegrityError), transaction.atomic():
        Deployment.unscoped.create(
            tenant=world.tenant,
            activity=v1,
            activity_name=v1.name,
            environment="PROD",
            target_tenant=world.tenant,
            status=DeploymentStatus.ACTIVE,
            effective_from=timezone.now(),
            deployed_by=world.admin,
        )
    assert current.status == DeploymentStatus.ACTIVE


def test_environments_are_independent_slots(world):
    activity = world.active("PROD")

    world.deploy(activity, "STAGING")
    world.deploy(activity, "DEV")

    assert activity.deployments.filter(status=DeploymentStatus.ACTIVE).count() == 3


def test_rollback_ends_current_and_reactivates_the_superseded_one(world):
    v1 = world.active(name="PO_Approval")
    v2 = _next_version(world, v1)
    d2 = world.deploy(v2, "PROD")

    reactivated = services.deployment_rollback(
        tenant=world.tenant, actor=world.admin, activity_id=v2.pk, deployment_id=d2.pk, rollback_reason="Critical bug"
    )

    d2.refresh_from_db()
    assert d2.status == DeploymentStatus.ROLLED_BACK and d2.end_reason == "Critical bug"
    assert reactivated.activity_id == v1.pk and reactivated.status == DeploymentStatus.ACTIVE
    assert world.reload(v1).status == S.ACTIVE
    assert world.reload(v2).status == S.DEPLOYED
    # the whole history is kept: the reactivated row was superseded, then active again
    assert [h.status for h in reactivated.history.order_by("history_id")] == [
        "PENDING",
        "ACTIVE",
        "SUPERSEDED",
        "ACTIVE",
    ]


def test_rollback_without_a_previous_deployment_is_refused(world):
    activity = world.active()
    deployment = activity.deployments.get()

    with pytest.raises(errors.Conflict, match="no previous deployment"):
        services.deployment_rollback(
            tenant=world.tenant, actor=world.admin, activity_id=activity.pk, deployment_id=deployment.pk
        )


def test_rollback_of_an_ended_deployment_is_an_invalid_transition(world):
    v1 = world.active(name="PO_Approval")
    v2 = _next_version(world, v1)
    world.deploy(v2, "PROD")

    with pytest.raises(errors.InvalidTransition):
        services.deployment_rollback(
            tenant=world.tenant, actor=world.admin, activity_id=v1.pk, deployment_id=v1.deployments.get().pk
        )


def test_future_deployment_waits_then_beat_job_activates_it(world):
    activity = world.approved()
    later = timezone.now() + timedelta(hours=1)

    deployment = world.deploy(activity, "PROD", effective_from=later)

    assert deployment.status == DeploymentStatus.PENDING
    assert world.reload(activity).status == S.DEPLOYED
    assert services.deployments_activate_due()["activated"] == 0

    result = services.deployments_activate_due(now=later + timedelta(seconds=1))

    deployment.refresh_from_db()
    assert result["activated"] == 1 and deployment.status == DeploymentStatus.ACTIVE
    assert world.reload(activity).status == S.ACTIVE


def test_beat_task_is_idempotent_and_ends_expired_ranges(world):
    activity = world.approved()
    now = timezone.now()
    world.deploy(
        activity, "PROD", effective_from=now - timedelta(minutes=1), effective_until=now + timedelta(seconds=1)
    )

    activate_due_deployments.delay()
    activate_due_deployments.delay()
    assert world.reload(activity).status == S.ACTIVE
    result = services.deployments_activate_due(now=now + timedelta(minutes=5))

    assert result == {"activated": 0, "ended": 1}
    assert world.reload(activity).status == S.DEPLOYED


def test_tenants_deployments_are_independent(world):
    MembershipFactory(user=world.admin, tenant=world.other_tenant, role=Role.ADMIN)
    world.admin._ocx_roles = None
    activity = world.active("PROD")

    other = world.deploy(activity, "PROD", target_tenant=world.other_tenant.slug)

    assert other.status == DeploymentStatus.ACTIVE
    assert activity.deployments.filter(status=DeploymentStatus.ACTIVE).count() == 2


def test_deploying_to_a_tenant_the_user_does_not_belong_to_is_refused(world):
    activity = world.approved()

    with pytest.raises(errors.PermissionDenied):
        world.deploy(activity, "PROD", target_tenant=world.other_tenant.slug)
    assert not activity.deployments.exists()


def test_member_cannot_deploy(world):
    activity = world.approved()

    with pytest.raises(errors.PermissionDenied):
        services.activity_deploy(tenant=world.tenant, actor=world.creator, activity_id=activity.pk, environment="PROD")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_deploys_to_one_slot_exactly_one_wins(world):
    v1 = world.approved(name="Race")
    v2 = _next_version(world, v1)
    barrier = threading.Barrier(2)
    outcomes = []

    def deploy(activity):
        try:
            barrier.wait()
            services.activity_deploy(
                tenant=world.tenant, actor=world.admin, activity_id=activity.pk, environment="PROD"
            )
            outcomes.append("won")
        except errors.Conflict:
            outcomes.append("conflict")
        finally:
            close_old_connections()

    threads = [threading.Thread(target=deploy, args=(a,)) for a in (v1, v2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    active = Deployment.objects.for_tenant(world.tenant).filter(activity_name="Race", status=DeploymentStatus.ACTIVE)
    assert active.count() == 1
    # Either both succeed in sequence (the second supersedes the first) or one gets a 409; never two active.
    assert outcomes.count("won") >= 1
    if outcomes.count("won") == 2:
        assert active.get().previous_deployment is not None
