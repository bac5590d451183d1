"""In-process execution: a registered handler runs in the ``runs.execute_run`` Celery task
(eager in tests), queued when the creating transaction commits."""

import pytest

from ocx.core import errors
from registry import selectors as registry_selectors
from runs import handlers, services
from runs.models import Run, RunStatus
from tests.runs.factories import RunFactory, reload

pytestmark = pytest.mark.django_db


@pytest.fixture
def flaky(world):
    """Flaky_Check has a handler failing transiently ``fail_times`` times, then succeeding."""
    world.active(name="Flaky_Check")
    calls = []

    @handlers.register("Flaky_Check")
    def flaky_check(ctx):
        calls.append(ctx.attempt)
        if len(calls) <= flaky_check.fail_times:
            raise handlers.TransientError("upstream busy")
        return {"ok": True, "attempt": ctx.attempt}

    flaky_check.fail_times = 1
    flaky_check.calls = calls
    yield flaky_check
    handlers.unregister("Flaky_Check")


def test_po_approval_runs_in_process_by_default_and_returns_the_decision(world, po, runner, run_on_commit):
    run = run_on_commit(
        RunFactory, tenant=world.tenant, actor=runner, work_unit_id="PO_Approval",
        input={"purchase_order": {"id": "PO-1001", "amount": 25000}},
    )  # fmt: skip

    run = reload(run)
    assert run.execution == "in_process" and run.status == RunStatus.COMPLETED
    assert run.output["decision"] == "approval_required" and run.output["approver"] == "Finance Manager"
    assert run.output["threshold"] == 10000 and run.attempt == 1 and run.worker_id.startswith("celery:")
    assert run.started_at is not None and run.completed_at is not None and run.duration_ms == 0  # frozen clock
    assert registry_selectors.execution_stats(activity=po)["successful_executions"] == 1


@pytest.mark.parametrize("amount,decision,approver", [(500, "approved", None), (150_000, "approval_required", "CFO")])
def test_po_approval_decides_by_the_thresholds_of_the_deployed_source(
    world, po, runner, run_on_commit, amount, decision, approver
):
    run = run_on_commit(
        RunFactory, tenant=world.tenant, actor=runner, work_unit_id="PO_Approval",
        input={"purchase_order": {"amount": amount}},
    )  # fmt: skip

    output = reload(run).output
    assert (output["decision"], output["approver"]) == (decision, approver)


def test_a_handler_error_fails_the_run_with_the_exception_type(world, po, runner, run_on_commit):
    run = run_on_commit(RunFactory, tenant=world.tenant, actor=runner, work_unit_id="PO_Approval", input={})

    run = reload(run)
    assert run.status == RunStatus.FAILED and run.error_type == "ValueError"
    assert "purchase_order.amount is required" in run.error
    assert registry_selectors.execution_stats(activity=po)["failed_executions"] == 1


def test_transient_errors_retry_until_the_handler_succeeds(world, runner, run_on_commit, flaky):
    flaky.fail_times = 2
    run = run_on_commit(RunFactory, tenant=world.tenant, actor=runner, work_unit_id="Flaky_Check", input={})

    run = reload(run)
    assert run.status == RunStatus.COMPLETED and run.attempt == 3 and run.output == {"ok": True, "attempt": 3}
    assert flaky.calls == [1, 2, 3]
    assert [h.status for h in run.history.order_by("history_date", "history_id")] == [
        "pending", "running", "pending", "running", "pending", "running", "completed",
    ]  # fmt: skip


def test_transient_errors_stop_at_max_attempts(world, runner, run_on_commit, flaky):
    flaky.fail_times = 99
    run = run_on_commit(
        RunFactory, tenant=world.tenant, actor=runner, work_unit_id="Flaky_Check", input={}, max_attempts=2
    )

    run = reload(run)
    assert run.status == RunStatus.FAILED and run.attempt == 2 and run.error_type == "TransientError"
    assert flaky.calls == [1, 2]


def test_connection_errors_count_as_transient(world, runner, run_on_commit):
    world.active(name="Net_Check")
    outcomes = iter([ConnectionError("reset by peer"), {"ok": True}])

    @handlers.register("Net_Check")
    def net_check(ctx):
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    try:
        run = run_on_commit(RunFactory, tenant=world.tenant, actor=runner, work_unit_id="Net_Check", input={})
    finally:
        handlers.unregister("Net_Check")
    assert reload(run).status == RunStatus.COMPLETED and reload(run).attempt == 2


def test_a_handler_returning_something_else_than_a_json_object_fails_with_invalid_output(world, runner, run_on_commit):
    world.active(name="Odd_Check")
    handlers.register("Odd_Check")(lambda ctx: {"when": object()})
    try:
        run = run_on_commit(RunFactory, tenant=world.tenant, actor=runner, work_unit_id="Odd_Check", input={})
    finally:
        handlers.unregister("Odd_Check")
    run = reload(run)
    assert run.status == RunStatus.FAILED and run.error_type == "InvalidOutput"


def test_in_process_execution_of_an_activity_without_a_handler_is_a_validation_error(world, vendor_check, runner):
    with pytest.raises(errors.ValidationError, match="No in-process handler is registered for Vendor_Check"):
        RunFactory(tenant=world.tenant, actor=runner, execution="in_process")
    assert not Run.objects.for_tenant(world.tenant).exists()


def test_po_approval_can_also_be_left_to_agents(world, po, runner, run_on_commit):
    run = run_on_commit(RunFactory, tenant=world.tenant, actor=runner, work_unit_id="PO_Approval", execution="agent")

    assert reload(run).status == RunStatus.PENDING  # nothing executed it in process


def test_the_task_does_nothing_for_a_run_that_is_not_pending_any_more(world, po, runner, run_on_commit):
    run = run_on_commit(
        RunFactory, tenant=world.tenant, actor=runner, work_unit_id="PO_Approval",
        input={"purchase_order": {"amount": 1}},
    )  # fmt: skip

    again = services.run_execute(run_id=run.pk, worker_id="celery:redelivered")

    assert again.outcome == "skipped" and reload(run).attempt == 1


def test_a_cancelled_in_process_run_is_never_executed(world, po, runner, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        run = RunFactory(
            tenant=world.tenant, actor=runner, work_unit_id="PO_Approval", input={"purchase_order": {"amount": 1}}
        )
    services.run_cancel(tenant=world.tenant, actor=runner, run_id=run.pk)
    for callback in queued:  # the task queued on creation runs after the cancellation
        callback()

    run = reload(run)
    assert run.status == RunStatus.CANCELLED and run.attempt == 0 and run.output is None


def test_a_handler_sees_cancellation_and_its_result_acknowledges_it(world, runner, run_on_commit):
    world.active(name="Long_Check")
    seen = []

    @handlers.register("Long_Check")
    def long_check(ctx):
        services.run_cancel(tenant=ctx.tenant_id, actor=runner, run_id=ctx.run_id)  # someone cancels meanwhile
        seen.append(ctx.cancel_requested())
        return {"partial": True}

    try:
        run = run_on_commit(RunFactory, tenant=world.tenant, actor=runner, work_unit_id="Long_Check", input={})
    finally:
        handlers.unregister("Long_Check")
    run = reload(run)
    assert seen == [True]
    assert run.status == RunStatus.CANCELLED and run.output == {"partial": True} and run.error_type == "Cancelled"


def test_a_time_limit_interrupting_the_handler_is_a_retryable_start_to_close_timeout(world, runner, run_on_commit):
    from celery.exceptions import SoftTimeLimitExceeded

    world.active(name="Slow_Check")
    outcomes = iter([SoftTimeLimitExceeded(), {"ok": True}])

    @handlers.register("Slow_Check")
    def slow_check(ctx):
        outcome = next(outcomes)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    try:
        run = run_on_commit(RunFactory, tenant=world.tenant, actor=runner, work_unit_id="Slow_Check", input={})
    finally:
        handlers.unregister("Slow_Check")
    history = [
        h.error_type for h in reload(run).history.filter(status="pending").order_by("history_date", "history_id")
    ]
    assert reload(run).status == RunStatus.COMPLETED and "StartToCloseTimeout" in history


def test_the_task_is_queued_with_the_runs_time_limit(
    world, po, runner, django_capture_on_commit_callbacks, monkeypatch
):
    from runs import tasks

    sent = {}
    monkeypatch.setattr(tasks.execute_run, "apply_async", lambda args, **kw: sent.update(args=args, **kw))
    with django_capture_on_commit_callbacks(execute=True):
        run = RunFactory(tenant=world.tenant, actor=runner, work_unit_id="PO_Approval", start_to_close_timeout=42)

    assert sent["args"] == (str(run.pk),) and sent["soft_time_limit"] == 42 and sent["time_limit"] == 52
    assert sent["task_id"] == run.celery_task_id
