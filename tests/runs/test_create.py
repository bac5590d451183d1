"""Starting a run: what is runnable (a live atomic work unit), idempotent creation, the input
cap, and the version and deployment a run keeps whatever happens to the registry later."""

import pytest

from ocx.core import errors
from registry import services as registry_services
from runs import services
from runs.models import Run, RunStatus
from tests.runs.factories import RunFactory, reload

pytestmark = pytest.mark.django_db


def test_a_work_unit_is_named_by_activity_name_or_uuid(world, vendor_check, runner):
    by_name = RunFactory(tenant=world.tenant, actor=runner, work_unit_id="Vendor_Check")
    by_uuid = RunFactory(tenant=world.tenant, actor=runner, work_unit_id=str(vendor_check.pk))

    assert by_name.work_unit_id == by_uuid.work_unit_id == "Vendor_Check"
    assert by_name.deployment_id == by_uuid.deployment_id


def test_a_suspended_work_unit_cannot_be_run(world, vendor_check, runner):
    registry_services.activity_suspend(
        tenant=world.tenant, actor=world.admin, activity_id=vendor_check.pk, reason="audit"
    )

    with pytest.raises(errors.Conflict, match="Vendor_Check cannot be run: it is suspended") as refused:
        RunFactory(tenant=world.tenant, actor=runner)
    assert refused.value.details["activity_status"] == "SUSPENDED"
    assert not Run.objects.for_tenant(world.tenant).exists()


def test_an_undeployed_work_unit_cannot_be_run(world, runner):
    world.approved(name="Draft_Check")

    with pytest.raises(errors.Conflict, match="has no active deployment in PROD"):
        RunFactory(tenant=world.tenant, actor=runner, work_unit_id="Draft_Check")


def test_a_work_unit_deployed_to_another_environment_only_cannot_be_run_in_prod(world, runner):
    world.active(name="Staging_Check", environment="STAGING")

    with pytest.raises(errors.Conflict):
        RunFactory(tenant=world.tenant, actor=runner, work_unit_id="Staging_Check")
    assert (
        RunFactory(tenant=world.tenant, actor=runner, work_unit_id="Staging_Check", environment="STAGING").environment
        == "STAGING"
    )


def test_an_unknown_work_unit_is_not_found(world, runner):
    with pytest.raises(errors.NotFound):
        RunFactory(tenant=world.tenant, actor=runner, work_unit_id="No_Such_Thing")


def test_a_composite_work_unit_is_refused_clearly_when_no_workflow_engine_is_installed(world, runner):
    with pytest.raises(errors.ValidationError, match="Composite work units .* cannot be run: no workflow engine"):
        RunFactory(tenant=world.tenant, actor=runner, work_unit_id="onboarding-template", work_unit_type="composite")


def test_the_input_is_size_capped(world, vendor_check, runner, settings):
    settings.OCX_RUNS_MAX_INPUT_BYTES = 100

    with pytest.raises(errors.PayloadTooLarge) as refused:
        RunFactory(tenant=world.tenant, actor=runner, input={"blob": "x" * 200})
    assert refused.value.details == {"field": "input", "max_bytes": 100}


def test_a_repeated_idempotency_key_returns_the_first_run(world, vendor_check, runner):
    first, created = services.run_create(
        tenant=world.tenant, actor=runner, work_unit_id="Vendor_Check", input={"a": 1}, idempotency_key="k-1"
    )
    again, created_again = services.run_create(
        tenant=world.tenant, actor=runner, work_unit_id="Vendor_Check", input={"a": 1}, idempotency_key="k-1"
    )

    assert (created, created_again) == (True, False) and again.pk == first.pk
    assert Run.objects.for_tenant(world.tenant).count() == 1


def test_a_retried_post_returns_the_first_run_even_after_the_work_unit_was_suspended(world, vendor_check, runner):
    first, _ = services.run_create(tenant=world.tenant, actor=runner, work_unit_id="Vendor_Check", idempotency_key="k")
    registry_services.activity_suspend(tenant=world.tenant, actor=world.admin, activity_id=vendor_check.pk, reason="x")

    again, created = services.run_create(
        tenant=world.tenant, actor=runner, work_unit_id="Vendor_Check", idempotency_key="k"
    )
    assert again.pk == first.pk and created is False


def test_an_idempotency_key_reused_for_another_request_is_a_conflict(world, vendor_check, runner):
    services.run_create(
        tenant=world.tenant, actor=runner, work_unit_id="Vendor_Check", input={"a": 1}, idempotency_key="k"
    )

    with pytest.raises(errors.Conflict, match="already used for a different request"):
        services.run_create(
            tenant=world.tenant, actor=runner, work_unit_id="Vendor_Check", input={"a": 2}, idempotency_key="k"
        )


def test_idempotency_keys_are_per_tenant_and_a_work_unit_deployed_to_another_tenant_runs_there(
    world, vendor_check, runner, other_runner
):
    from ocx.core.access import Role
    from tests.factories import MembershipFactory

    MembershipFactory(user=world.admin, tenant=world.other_tenant, role=Role.ADMIN)  # may deploy to globex
    world.admin._ocx_roles = None  # the per-request role cache
    deployment = world.deploy(vendor_check, target_tenant="globex")
    mine, _ = services.run_create(
        tenant=world.tenant, actor=runner, work_unit_id="Vendor_Check", idempotency_key="same"
    )

    theirs, created = services.run_create(
        tenant=world.other_tenant, actor=other_runner, work_unit_id="Vendor_Check", idempotency_key="same"
    )

    assert created is True and theirs.pk != mine.pk and theirs.tenant_id == world.other_tenant.pk
    assert theirs.deployment_id == deployment.pk and theirs.activity_id == vendor_check.pk


def test_a_rollback_does_not_rewrite_the_version_a_run_ran(world, vendor_check, runner):
    old = RunFactory(tenant=world.tenant, actor=runner)
    v2 = registry_services.activity_new_version(
        tenant=world.tenant, actor=world.creator, activity_id=vendor_check.pk, version_type="MINOR", change_summary="v2"
    )
    _, approvals = world.request_all(v2)
    for approval in approvals:
        world.decide(v2, approval)
    deployment = world.deploy(v2)

    new = RunFactory(tenant=world.tenant, actor=runner)
    registry_services.deployment_rollback(
        tenant=world.tenant, actor=world.admin, activity_id=v2.pk, deployment_id=deployment.pk, rollback_reason="bug"
    )
    after = RunFactory(tenant=world.tenant, actor=runner)

    assert (reload(old).activity_version, reload(new).activity_version, after.activity_version) == (
        "1.0.0",
        "1.1.0",
        "1.0.0",
    )
    assert reload(new).deployment_id == deployment.pk


def test_a_run_that_ran_on_a_deployment_rolled_back_meanwhile_still_counts_in_the_registry(
    world, vendor_check, runner, agent
):
    from registry import selectors as registry_selectors
    from tests.runs.factories import claim, lease_of

    v2 = registry_services.activity_new_version(
        tenant=world.tenant, actor=world.creator, activity_id=vendor_check.pk, version_type="MINOR", change_summary="v2"
    )
    _, approvals = world.request_all(v2)
    for approval in approvals:
        world.decide(v2, approval)
    deployment = world.deploy(v2)
    RunFactory(tenant=world.tenant, actor=runner)
    [run] = claim(world.tenant, agent)
    registry_services.deployment_rollback(
        tenant=world.tenant, actor=world.admin, activity_id=v2.pk, deployment_id=deployment.pk, rollback_reason="bug"
    )

    services.run_complete(tenant=world.tenant, actor=agent, output={}, **lease_of(run))

    assert registry_selectors.execution_stats(activity=world.reload(v2))["total_executions"] == 1
    assert reload(run).status == RunStatus.COMPLETED


def test_defaults_come_from_settings(world, vendor_check, runner, settings, clock):
    from datetime import timedelta

    settings.OCX_RUNS_MAX_ATTEMPTS, settings.OCX_RUNS_START_TO_CLOSE_SECONDS = 5, 120
    settings.OCX_RUNS_SCHEDULE_TO_START_SECONDS = 600
    run = RunFactory(tenant=world.tenant, actor=runner)

    assert (run.max_attempts, run.start_to_close_timeout, run.schedule_to_start_timeout) == (5, 120, 600)
    assert run.deadline == clock.now + timedelta(seconds=600)
