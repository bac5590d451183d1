"""External agents: batch claims (topics, priority, one attempt and lease each), heartbeats with
checkpoints, and the refusal of every report under a stale lease."""

import uuid
from datetime import timedelta

import pytest

from ocx.core import errors
from runs import services
from runs.models import RunStatus
from tests.runs.factories import RunFactory, claim, lease_of, reload

pytestmark = pytest.mark.django_db


def test_a_batch_claim_hands_out_each_run_once_with_its_own_lease(world, vendor_check, runner, agent):
    created = [RunFactory(tenant=world.tenant, actor=runner) for _ in range(5)]

    first = claim(world.tenant, agent, worker_id="agent-a", max_runs=3)
    second = claim(world.tenant, agent, worker_id="agent-b", max_runs=3)

    assert len(first) == 3 and len(second) == 2
    assert {r.pk for r in first} | {r.pk for r in second} == {r.pk for r in created}
    assert len({r.lease_token for r in first + second}) == 5
    assert all(r.attempt == 1 and r.status == RunStatus.RUNNING for r in first + second)
    assert {r.worker_id for r in second} == {"agent-b"}
    assert claim(world.tenant, agent, max_runs=10) == []


def test_claims_take_the_highest_priority_first_then_the_oldest(world, vendor_check, runner, agent, clock):
    low = RunFactory(tenant=world.tenant, actor=runner, priority=0)
    clock.advance(seconds=1)
    high = RunFactory(tenant=world.tenant, actor=runner, priority=10)
    clock.advance(seconds=1)
    low_later = RunFactory(tenant=world.tenant, actor=runner, priority=0)

    assert [r.pk for r in claim(world.tenant, agent, max_runs=3)] == [high.pk, low.pk, low_later.pk]


def test_topics_restrict_a_claim_to_those_work_units(world, vendor_check, runner, agent):
    world.active(name="Invoice_Check")
    RunFactory(tenant=world.tenant, actor=runner)
    invoice = RunFactory(tenant=world.tenant, actor=runner, work_unit_id="Invoice_Check")

    assert [r.pk for r in claim(world.tenant, agent, topics=["Invoice_Check"], max_runs=5)] == [invoice.pk]
    assert claim(world.tenant, agent, topics=["Nothing_Here"]) == []
    assert len(claim(world.tenant, agent, topics=["Vendor_Check", "Invoice_Check"], max_runs=5)) == 1


def test_a_work_unit_may_be_named_by_its_activity_uuid(world, vendor_check, runner, agent):
    run = RunFactory(tenant=world.tenant, actor=runner, work_unit_id=str(vendor_check.pk))

    topics = services.resolve_topics(tenant=world.tenant, work_unit=str(vendor_check.pk), topics=None)

    assert run.work_unit_id == "Vendor_Check" and topics == ["Vendor_Check"]
    assert [r.pk for r in claim(world.tenant, agent, topics=topics)] == [run.pk]


def test_in_process_runs_are_never_offered_to_agents(world, po, runner, agent):
    RunFactory(tenant=world.tenant, actor=runner, work_unit_id="PO_Approval")  # queued for Celery, not run here

    assert claim(world.tenant, agent, max_runs=10) == []


def test_heartbeat_extends_the_lease_keeps_the_checkpoint_and_answers_cancel_requested(
    world, vendor_check, runner, agent, clock
):
    RunFactory(tenant=world.tenant, actor=runner)
    [run] = claim(world.tenant, agent, lease_seconds=30)
    assert run.lease_expires_at == clock.now + timedelta(seconds=30)
    clock.advance(seconds=20)

    beat = services.run_heartbeat(tenant=world.tenant, actor=agent, details={"page": 3}, **lease_of(run))

    assert beat.cancel_requested is False and beat.lease_expires_at == clock.now + timedelta(seconds=30)
    services.run_cancel(tenant=world.tenant, actor=runner, run_id=run.pk)
    assert services.run_heartbeat(tenant=world.tenant, actor=agent, **lease_of(run)).cancel_requested is True
    stored = reload(run)
    assert stored.heartbeat_details == {"page": 3} and stored.heartbeat_at == clock.now
    assert stored.history.count() == 3  # created, claimed, cancel requested: heartbeats write no history


def test_heartbeats_never_extend_the_lease_past_the_start_to_close_timeout(world, vendor_check, runner, agent, clock):
    RunFactory(tenant=world.tenant, actor=runner, start_to_close_timeout=100)
    [run] = claim(world.tenant, agent, lease_seconds=60)
    clock.advance(seconds=80)

    beat = services.run_heartbeat(tenant=world.tenant, actor=agent, **lease_of(run))

    assert beat.lease_expires_at == run.started_at + timedelta(seconds=100)


def test_the_next_attempt_receives_the_checkpoint_of_the_last_one(world, vendor_check, runner, agent, clock):
    RunFactory(tenant=world.tenant, actor=runner)
    [first] = claim(world.tenant, agent, lease_seconds=10)
    services.run_heartbeat(tenant=world.tenant, actor=agent, details={"rows_done": 500}, **lease_of(first))
    clock.advance(seconds=60)
    services.runs_settle()

    [second] = claim(world.tenant, agent)

    assert second.pk == first.pk and second.attempt == 2 and second.heartbeat_details == {"rows_done": 500}


@pytest.mark.parametrize("report", ["heartbeat", "complete", "fail"])
@pytest.mark.parametrize("staleness", ["token", "attempt"])
def test_a_report_under_a_stale_lease_is_a_conflict_and_changes_nothing(
    world, vendor_check, runner, agent, clock, report, staleness
):
    RunFactory(tenant=world.tenant, actor=runner)
    [first] = claim(world.tenant, agent, lease_seconds=10)
    clock.advance(seconds=11)
    services.runs_settle()  # the lease expired: re-offered ...
    [second] = claim(world.tenant, agent, worker_id="agent-2")  # ... and taken by another agent
    stale = lease_of(first) if staleness == "token" else {**lease_of(second), "attempt": first.attempt}
    before = reload(second)

    call = {
        "heartbeat": lambda: services.run_heartbeat(tenant=world.tenant, actor=agent, details={"x": 1}, **stale),
        "complete": lambda: services.run_complete(tenant=world.tenant, actor=agent, output={"late": True}, **stale),
        "fail": lambda: services.run_fail(tenant=world.tenant, actor=agent, error="late", **stale),
    }[report]
    with pytest.raises(errors.Conflict):
        call()

    after = reload(second)
    assert (after.status, after.attempt, after.lease_token, after.output, after.heartbeat_details) == (
        before.status, before.attempt, before.lease_token, before.output, before.heartbeat_details,
    )  # fmt: skip


def test_a_late_worker_cannot_complete_a_cancelled_run(world, vendor_check, runner, agent, clock):
    RunFactory(tenant=world.tenant, actor=runner)
    [run] = claim(world.tenant, agent, lease_seconds=10)
    services.run_cancel(tenant=world.tenant, actor=runner, run_id=run.pk)
    clock.advance(seconds=11)
    services.runs_settle()  # cancelled on lease expiry

    with pytest.raises(errors.Conflict):
        services.run_complete(tenant=world.tenant, actor=agent, output={}, **lease_of(run))
    assert reload(run).status == RunStatus.CANCELLED


def test_a_malformed_token_is_stale_not_an_error(world, vendor_check, runner, agent):
    RunFactory(tenant=world.tenant, actor=runner)
    [run] = claim(world.tenant, agent)

    with pytest.raises(errors.Conflict):
        services.run_complete(tenant=world.tenant, actor=agent, run_id=run.pk, lease_token="nope", attempt=1)


def test_a_report_for_an_unknown_run_is_not_found(world, vendor_check, agent):
    with pytest.raises(errors.NotFound):
        services.run_complete(
            tenant=world.tenant, actor=agent, run_id=uuid.uuid4(), lease_token=str(uuid.uuid4()), attempt=1
        )


def test_a_lease_that_ran_out_but_was_not_re_offered_is_still_honoured(world, vendor_check, runner, agent, clock):
    RunFactory(tenant=world.tenant, actor=runner)
    [run] = claim(world.tenant, agent, lease_seconds=10)
    clock.advance(seconds=15)  # no sweep yet

    assert services.run_complete(tenant=world.tenant, actor=agent, output={}, **lease_of(run)).status == "completed"
