"""The beat sweep (``runs.settle_leases``): expired leases are re-offered until the attempt
limit, then failed with LeaseExpired; a cancel-requested run whose lease expires ends
cancelled; a pending run past its schedule-to-start deadline is failed. Set-based and idempotent."""

from datetime import timedelta

import pytest

from activity_feed.models import ActivityEvent
from registry import selectors as registry_selectors
from runs import services, tasks
from runs.models import RunStatus
from tests.runs.factories import RunFactory, claim, lease_of, reload

pytestmark = pytest.mark.django_db


def test_an_expired_lease_is_re_offered_with_its_attempt_count_kept(world, vendor_check, runner, agent, clock):
    RunFactory(tenant=world.tenant, actor=runner, max_attempts=3)
    [run] = claim(world.tenant, agent, lease_seconds=30)
    clock.advance(seconds=29)
    assert services.runs_settle().reoffered == 0  # not yet
    clock.advance(seconds=2)

    result = services.runs_settle()

    run = reload(run)
    assert result.reoffered == 1 and run.status == RunStatus.PENDING and run.attempt == 1
    assert run.lease_token is None and run.error_type == "LeaseExpired" and "attempt 1 expired" in run.error
    assert [r.attempt for r in claim(world.tenant, agent)] == [2]


def test_the_last_attempts_expired_lease_fails_the_run_with_lease_expired(world, vendor_check, runner, agent, clock):
    RunFactory(tenant=world.tenant, actor=runner, max_attempts=2)
    for _ in range(2):
        [run] = claim(world.tenant, agent, lease_seconds=10)
        clock.advance(seconds=11)
        services.runs_settle()

    run = reload(run)
    assert run.status == RunStatus.FAILED and run.attempt == 2 and run.error_type == "LeaseExpired"
    assert "(2 of 2)" in run.error and run.completed_at == clock.now and run.duration_ms == 11_000
    assert run.execution_id is not None
    stats = registry_selectors.execution_stats(activity=vendor_check)
    assert (stats["total_executions"], stats["failed_executions"]) == (1, 1)
    assert claim(world.tenant, agent) == []


def test_a_cancel_requested_run_whose_lease_expires_ends_cancelled(world, vendor_check, runner, agent, clock):
    RunFactory(tenant=world.tenant, actor=runner)
    [run] = claim(world.tenant, agent, lease_seconds=10)
    services.run_cancel(tenant=world.tenant, actor=runner, run_id=run.pk)
    clock.advance(seconds=11)

    assert services.runs_settle().cancelled == 1
    run = reload(run)
    assert run.status == RunStatus.CANCELLED and run.error_type == "Cancelled" and run.completed_at == clock.now


def test_a_pending_run_past_its_schedule_to_start_timeout_is_failed(world, vendor_check, runner, clock):
    run = RunFactory(tenant=world.tenant, actor=runner, schedule_to_start_timeout=60)
    clock.advance(seconds=59)
    services.runs_settle()
    assert reload(run).status == RunStatus.PENDING
    clock.advance(seconds=2)

    assert services.runs_settle().schedule_to_start == 1
    run = reload(run)
    assert run.status == RunStatus.FAILED and run.error_type == "ScheduleToStartTimeout"
    assert run.execution_id is None  # it never ran: no registry execution
    assert registry_selectors.execution_stats(activity=vendor_check)["total_executions"] == 0


def test_a_run_past_its_deadline_is_not_claimable_even_before_the_sweep(world, vendor_check, runner, agent, clock):
    RunFactory(tenant=world.tenant, actor=runner, schedule_to_start_timeout=60)
    clock.advance(seconds=61)

    assert claim(world.tenant, agent) == []


def test_a_re_offered_run_gets_a_fresh_schedule_to_start_deadline(world, vendor_check, runner, agent, clock):
    RunFactory(tenant=world.tenant, actor=runner, schedule_to_start_timeout=60)
    [run] = claim(world.tenant, agent, lease_seconds=100)
    clock.advance(seconds=101)
    services.runs_settle()

    assert reload(run).deadline == clock.now + timedelta(seconds=60)
    clock.advance(seconds=30)
    assert len(claim(world.tenant, agent)) == 1


def test_zero_schedule_to_start_timeout_means_the_run_waits_for_ever(world, vendor_check, runner, clock):
    run = RunFactory(tenant=world.tenant, actor=runner, schedule_to_start_timeout=0)
    clock.advance(days=30)

    services.runs_settle()
    assert run.deadline is None and reload(run).status == RunStatus.PENDING


def test_the_sweep_is_idempotent(world, vendor_check, runner, agent, clock):
    RunFactory(tenant=world.tenant, actor=runner)
    claim(world.tenant, agent, lease_seconds=10)
    clock.advance(seconds=11)

    assert services.runs_settle().as_dict() == {
        "cancelled": 0,
        "reoffered": 1,
        "lease_expired": 0,
        "schedule_to_start": 0,
    }
    assert services.runs_settle().as_dict() == {
        "cancelled": 0,
        "reoffered": 0,
        "lease_expired": 0,
        "schedule_to_start": 0,
    }


def test_the_sweep_settles_many_runs_in_batches_with_one_event_and_history_row_each(
    world, vendor_check, runner, agent, clock
):
    for _ in range(7):
        RunFactory(tenant=world.tenant, actor=runner)
    claimed = claim(world.tenant, agent, max_runs=7, lease_seconds=10)
    clock.advance(seconds=11)

    result = services.runs_settle(batch_size=3)

    assert result.reoffered == 7
    for run in claimed:
        assert reload(run).history.filter(status="pending").count() == 2  # created, re-offered
    assert ActivityEvent.objects.for_tenant(world.tenant).filter(type="runs.run.requeued").count() == 7


def test_a_re_offered_in_process_run_is_queued_again(world, po, runner, clock, run_on_commit):
    from runs.services.execution import run_start_in_process

    run = RunFactory(tenant=world.tenant, actor=runner, work_unit_id="PO_Approval", input={"purchase_order": {"amount": 1}},
                     start_to_close_timeout=30)  # fmt: skip
    run_start_in_process(run_id=run.pk, worker_id="celery:died")  # its worker dies mid-attempt
    clock.advance(seconds=31)

    run_on_commit(services.runs_settle)

    run = reload(run)
    assert run.status == RunStatus.COMPLETED and run.attempt == 2 and run.output["decision"] == "approved"


def test_the_beat_task_reports_what_it_settled(world, vendor_check, runner, clock):
    RunFactory(tenant=world.tenant, actor=runner, schedule_to_start_timeout=5)
    clock.advance(seconds=6)

    assert tasks.settle_leases() == {"cancelled": 0, "reoffered": 0, "lease_expired": 0, "schedule_to_start": 1}


def test_the_beat_schedule_runs_the_sweep(settings):
    from runs.schedule import BEAT_SCHEDULE

    assert BEAT_SCHEDULE["runs-settle-leases"]["task"] == "runs.settle_leases"
    assert BEAT_SCHEDULE["runs-settle-leases"]["schedule"] == float(settings.OCX_RUNS_SETTLE_INTERVAL)


def test_reports_after_settlement_by_expiry_use_the_real_lease(world, vendor_check, runner, agent, clock):
    RunFactory(tenant=world.tenant, actor=runner)
    [first] = claim(world.tenant, agent, lease_seconds=10)
    clock.advance(seconds=11)
    services.runs_settle()
    [second] = claim(world.tenant, agent)

    done = services.run_complete(tenant=world.tenant, actor=agent, output={"ok": 1}, **lease_of(second))
    assert done.status == RunStatus.COMPLETED and done.attempt == 2 and first.attempt == 1
