"""Cancellation: a pending run at once; a running one on request, ending cancelled when its
executor acknowledges (its next complete/fail) or its lease expires — never half-cancelled."""

import pytest

from activity_feed.models import ActivityEvent
from ocx.core import errors
from registry import selectors as registry_selectors
from runs import services
from runs.models import RunStatus
from tests.runs.factories import RunFactory, claim, lease_of, reload

pytestmark = pytest.mark.django_db


def test_cancelling_a_pending_run_cancels_it_at_once_and_it_is_never_offered(world, vendor_check, runner, agent):
    run = RunFactory(tenant=world.tenant, actor=runner)

    cancelled = services.run_cancel(tenant=world.tenant, actor=runner, run_id=run.pk, reason="wrong vendor")

    assert cancelled.status == RunStatus.CANCELLED and cancelled.completed_at is not None
    assert cancelled.error_type == "" and cancelled.execution_id is None  # it never ran
    assert claim(world.tenant, agent) == []
    assert registry_selectors.execution_stats(activity=vendor_check)["total_executions"] == 0
    event = ActivityEvent.objects.for_tenant(world.tenant).get(type="runs.run.cancelled")
    assert event.event_metadata["reason"] == "wrong vendor" and event.user_name == "acme-member"


def test_cancelling_a_running_run_requests_it_and_the_agent_learns_it_on_heartbeat(world, vendor_check, runner, agent):
    RunFactory(tenant=world.tenant, actor=runner)
    [run] = claim(world.tenant, agent)

    requested = services.run_cancel(tenant=world.tenant, actor=runner, run_id=run.pk)

    assert requested.status == RunStatus.RUNNING and requested.cancel_requested is True
    assert services.run_heartbeat(tenant=world.tenant, actor=agent, **lease_of(run)).cancel_requested is True
    assert ActivityEvent.objects.for_tenant(world.tenant).filter(type="runs.run.cancel_requested").count() == 1


@pytest.mark.parametrize("report", ["complete", "fail"])
def test_the_agents_next_report_acknowledges_the_cancellation(world, vendor_check, runner, agent, report):
    RunFactory(tenant=world.tenant, actor=runner)
    [run] = claim(world.tenant, agent)
    services.run_cancel(tenant=world.tenant, actor=runner, run_id=run.pk)

    if report == "complete":
        ended = services.run_complete(tenant=world.tenant, actor=agent, output={"partial": 1}, **lease_of(run))
    else:
        ended = services.run_fail(tenant=world.tenant, actor=agent, error="stopped", retryable=True, **lease_of(run))

    assert ended.status == RunStatus.CANCELLED and ended.error_type == "Cancelled" and ended.lease_token is None
    stats = registry_selectors.execution_stats(activity=vendor_check)
    assert (stats["total_executions"], stats["failed_executions"]) == (1, 1)  # it did run: a failed execution


def test_cancelling_twice_changes_nothing_the_second_time(world, vendor_check, runner, agent):
    RunFactory(tenant=world.tenant, actor=runner)
    [run] = claim(world.tenant, agent)
    services.run_cancel(tenant=world.tenant, actor=runner, run_id=run.pk)
    services.run_cancel(tenant=world.tenant, actor=runner, run_id=run.pk)

    assert ActivityEvent.objects.for_tenant(world.tenant).filter(type="runs.run.cancel_requested").count() == 1


def test_a_finished_run_cannot_be_cancelled(world, vendor_check, runner, agent):
    RunFactory(tenant=world.tenant, actor=runner)
    [run] = claim(world.tenant, agent)
    services.run_complete(tenant=world.tenant, actor=agent, output={}, **lease_of(run))

    with pytest.raises(errors.InvalidTransition) as refused:
        services.run_cancel(tenant=world.tenant, actor=runner, run_id=run.pk)
    assert refused.value.details["current_state"] == "completed" and reload(run).status == RunStatus.COMPLETED


def test_only_who_started_a_run_or_a_tenant_admin_may_cancel_it(world, vendor_check, runner):
    from ocx.core.access import Role
    from tests.factories import member

    run = RunFactory(tenant=world.tenant, actor=runner)
    colleague = member(world.tenant, Role.MEMBER, username="acme-colleague")

    with pytest.raises(errors.PermissionDenied):
        services.run_cancel(tenant=world.tenant, actor=colleague, run_id=run.pk)
    assert services.run_cancel(tenant=world.tenant, actor=world.admin, run_id=run.pk).status == RunStatus.CANCELLED


# --- in-process runs: the Celery task is revoked (eager mode; the revoke broadcast is mocked) --
@pytest.fixture
def revokes(monkeypatch):
    """The revoke broadcasts sent to the workers, instead of sending them."""
    from runs import tasks

    sent = []
    monkeypatch.setattr(tasks.execute_run.app.control, "revoke", lambda task_id, **kw: sent.append((task_id, kw)))
    return sent


def _started_in_process(world, runner, django_capture_on_commit_callbacks):
    """A PO_Approval run whose task a worker has started (its handler still running)."""
    with django_capture_on_commit_callbacks(execute=False):  # the task is queued, not executed
        run = RunFactory(tenant=world.tenant, actor=runner, work_unit_id="PO_Approval", input={})
    services.run_start_in_process(run_id=run.pk, worker_id="celery:w1:1")
    return reload(run)


def test_cancelling_a_running_in_process_run_revokes_and_interrupts_its_task(
    world, po, runner, revokes, django_capture_on_commit_callbacks
):
    run = _started_in_process(world, runner, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        requested = services.run_cancel(tenant=world.tenant, actor=runner, run_id=run.pk)

    assert requested.status == RunStatus.RUNNING and requested.cancel_requested is True
    assert revokes == [(run.celery_task_id, {"terminate": True, "signal": "SIGUSR1"})]


def test_cancelling_a_pending_in_process_run_revokes_its_queued_task_without_interrupting(
    world, po, runner, revokes, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        run = RunFactory(tenant=world.tenant, actor=runner, work_unit_id="PO_Approval", input={})

    with django_capture_on_commit_callbacks(execute=True):
        services.run_cancel(tenant=world.tenant, actor=runner, run_id=run.pk)

    assert revokes == [(run.celery_task_id, {})] and reload(run).status == RunStatus.CANCELLED


def test_the_interrupted_handler_reports_and_the_run_ends_cancelled(world, runner, revokes, run_on_commit):
    from celery.exceptions import SoftTimeLimitExceeded

    from runs import handlers

    world.active(name="Long_Check")

    @handlers.register("Long_Check")
    def long_check(ctx):
        services.run_cancel(tenant=ctx.tenant_id, actor=runner, run_id=ctx.run_id)
        raise SoftTimeLimitExceeded()  # what the revoke's SIGUSR1 raises in the worker

    try:
        run = run_on_commit(RunFactory, tenant=world.tenant, actor=runner, work_unit_id="Long_Check", input={})
    finally:
        handlers.unregister("Long_Check")

    run = reload(run)
    assert run.status == RunStatus.CANCELLED and run.error_type == "Cancelled" and "cancelled" in run.error
    assert [task_id for task_id, kw in revokes if kw.get("terminate")] == [run.celery_task_id]
    assert run.attempt == 1  # not retried as a timeout


def test_a_lost_revoke_still_ends_the_run_cancelled_when_its_lease_runs_out(
    world, po, runner, clock, monkeypatch, django_capture_on_commit_callbacks
):
    from runs import tasks

    def broker_down(task_id, **kwargs):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.execute_run.app.control, "revoke", broker_down)
    run = _started_in_process(world, runner, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        services.run_cancel(tenant=world.tenant, actor=runner, run_id=run.pk)  # the revoke fails: logged

    clock.advance(seconds=run.start_to_close_timeout + 1)  # the worker never reports
    services.runs_settle()

    assert reload(run).status == RunStatus.CANCELLED and reload(run).error_type == "Cancelled"
