"""A run's whole life through the services: created pending, claimed (running), completed or
failed, with history, events on the spine, counters and the registry execution."""

import pytest

from activity_feed.models import ActivityEvent
from ocx.core import errors
from registry import selectors as registry_selectors
from runs import services
from runs.models import Run, RunStatus
from tests.runs.factories import RunFactory, claim, lease_of, reload

pytestmark = pytest.mark.django_db


def run_types(run):
    return list(
        ActivityEvent.objects.for_tenant(run.tenant_id)
        .filter(entity_type="run", entity_id=str(run.pk))
        .order_by("id")
        .values_list("type", flat=True)
    )


def test_created_run_is_pending_with_the_live_version_and_deployment_recorded(world, vendor_check, runner):
    run = RunFactory(tenant=world.tenant, actor=runner, input={"vendor": "ACME Steel"})

    assert run.status == RunStatus.PENDING
    assert (run.work_unit_id, run.work_unit_type, run.work_unit_name) == ("Vendor_Check", "atomic", "Vendor_Check")
    assert run.activity_id == vendor_check.pk and run.activity_version == "1.0.0"
    live = registry_selectors.live_deployment_for(tenant=world.tenant, activity=vendor_check, environment="PROD")
    assert run.deployment_id == live.pk
    assert run.execution == "agent" and run.user_name == "acme-member" and run.attempt == 0
    assert run_types(run) == ["runs.run.created"]


def test_claimed_run_completes_with_output_duration_events_history_and_a_registry_execution(
    world, vendor_check, runner, agent, clock
):
    run = RunFactory(tenant=world.tenant, actor=runner)
    clock.advance(seconds=2)

    [claimed] = claim(world.tenant, agent, worker_id="agent-7")
    assert claimed.pk == run.pk and claimed.status == RunStatus.RUNNING
    assert claimed.attempt == 1 and claimed.lease_token is not None and claimed.worker_id == "agent-7"
    clock.advance(seconds=3)
    done = services.run_complete(tenant=world.tenant, actor=agent, output={"risk": "low"}, **lease_of(claimed))

    run = reload(run)
    assert run.status == RunStatus.COMPLETED and run.output == {"risk": "low"}
    assert run.duration_ms == 3000 and run.completed_at == clock.now and run.lease_token is None
    assert run.execution_id is not None and done.execution_id == run.execution_id
    assert run_types(run) == ["runs.run.created", "runs.run.started", "runs.run.completed"]
    assert [h.status for h in run.history.order_by("history_date", "history_id")] == ["pending", "running", "completed"]
    stats = registry_selectors.execution_stats(activity=vendor_check)
    assert stats["total_executions"] == 1 and stats["successful_executions"] == 1


def test_non_retryable_failure_fails_the_run_and_counts_a_failed_execution(world, vendor_check, runner, agent):
    RunFactory(tenant=world.tenant, actor=runner)
    [claimed] = claim(world.tenant, agent)

    run = services.run_fail(
        tenant=world.tenant, actor=agent, error="Vendor registry down", error_type="VendorDown", **lease_of(claimed)
    )

    assert run.status == RunStatus.FAILED and (run.error, run.error_type) == ("Vendor registry down", "VendorDown")
    assert run_types(run)[-1] == "runs.run.failed"
    assert registry_selectors.execution_stats(activity=vendor_check)["failed_executions"] == 1


def test_retryable_failure_goes_back_to_pending_after_backoff_then_the_next_attempt_completes(
    world, vendor_check, runner, agent, clock, settings
):
    settings.OCX_RUNS_RETRY_BACKOFF_SECONDS = 4
    RunFactory(tenant=world.tenant, actor=runner)
    [first] = claim(world.tenant, agent)

    run = services.run_fail(tenant=world.tenant, actor=agent, error="busy", retryable=True, **lease_of(first))
    assert run.status == RunStatus.PENDING and run.error_type == "Error"
    assert claim(world.tenant, agent) == []  # backing off
    clock.advance(seconds=4)
    [second] = claim(world.tenant, agent)

    assert second.pk == run.pk and second.attempt == 2 and second.lease_token != first.lease_token
    done = services.run_complete(tenant=world.tenant, actor=agent, output={}, **lease_of(second))
    assert done.status == RunStatus.COMPLETED and done.error == "" and done.attempt == 2


def test_retry_after_given_by_the_agent_sets_when_the_run_is_offered_again(world, vendor_check, runner, agent, clock):
    RunFactory(tenant=world.tenant, actor=runner)
    [first] = claim(world.tenant, agent)
    services.run_fail(
        tenant=world.tenant, actor=agent, error="rate limited", retryable=True, retry_after=30, **lease_of(first)
    )

    clock.advance(seconds=29)
    assert claim(world.tenant, agent) == []
    clock.advance(seconds=1)
    assert len(claim(world.tenant, agent)) == 1


def test_retryable_failure_of_the_last_attempt_fails_the_run(world, vendor_check, runner, agent):
    RunFactory(tenant=world.tenant, actor=runner, max_attempts=1)
    [claimed] = claim(world.tenant, agent)

    run = services.run_fail(tenant=world.tenant, actor=agent, error="busy", retryable=True, **lease_of(claimed))

    assert run.status == RunStatus.FAILED


def test_a_finished_run_cannot_be_completed_again(world, vendor_check, runner, agent):
    RunFactory(tenant=world.tenant, actor=runner)
    [claimed] = claim(world.tenant, agent)
    services.run_complete(tenant=world.tenant, actor=agent, output={"n": 1}, **lease_of(claimed))

    with pytest.raises(errors.Conflict):
        services.run_complete(tenant=world.tenant, actor=agent, output={"n": 2}, **lease_of(claimed))
    assert reload(claimed).output == {"n": 1}


def test_counters_follow_every_status_change(world, vendor_check, runner, agent):
    from runs.selectors import activity_summary

    for _ in range(4):
        RunFactory(tenant=world.tenant, actor=runner)
    a, b, c = claim(world.tenant, agent, max_runs=3)
    services.run_complete(tenant=world.tenant, actor=agent, output={}, **lease_of(a))
    services.run_fail(tenant=world.tenant, actor=agent, error="x", **lease_of(b))

    summary = activity_summary(tenant=world.tenant, hours=24)
    actual = {s: Run.objects.for_tenant(world.tenant).filter(status=s).count() for s in RunStatus.values}
    assert {s: summary[s] for s in RunStatus.values} == actual == {
        "pending": 1, "running": 1, "completed": 1, "failed": 1, "cancelled": 0,
    }  # fmt: skip
