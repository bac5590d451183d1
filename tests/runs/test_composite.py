"""Composite work units (dynamic workflow templates), runs side: a run started through the
registered ``CompositeExecutor`` is running at once, finishes through
``composite_run_finished``, and is cancelled through the executor. The executor here is a fake
registered in the test; the workflow engine's real one is tested in tests/workflow."""

from __future__ import annotations

import pytest

from activity_feed.models import ActivityEvent
from ocx.core import errors
from registry import selectors as registry_selectors
from runs import selectors, services
from runs.models import Execution, Run, RunStatus, WorkUnitType
from runs.services import CompositeUnit, composite_run_finished, register_composite_executor
from tests.runs.factories import RunFactory, WorkspaceFactory, reload

pytestmark = pytest.mark.django_db


class FakeExecutor:
    """Knows the templates in ``units`` (by name and by id); records what it was asked."""

    def __init__(self, *units: CompositeUnit, on_cancel=None, fail_start: Exception | None = None):
        self.units = units
        self.started: list[dict] = []
        self.cancelled: list[dict] = []
        self.on_cancel = on_cancel
        self.fail_start = fail_start

    def resolve(self, *, tenant, ref: str) -> CompositeUnit | None:
        return next((u for u in self.units if ref in (u.name, u.id)), None)

    def start(self, *, run, unit: CompositeUnit, input: dict, actor) -> str:
        if self.fail_start is not None:
            raise self.fail_start
        assert (
            Run.objects.all_tenants().filter(pk=run.pk, status=RunStatus.RUNNING).exists()
        )  # running before the engine sees it
        self.started.append({"run_id": run.pk, "unit": unit, "input": input, "actor": actor})
        return f"instance-{len(self.started)}"

    def cancel(self, *, run, instance_ref: str, actor, reason: str) -> None:
        self.cancelled.append({"run_id": run.pk, "instance_ref": instance_ref, "reason": reason})
        if self.on_cancel is not None:
            self.on_cancel(run)


ONBOARDING = CompositeUnit(id="41", name="Vendor_Onboarding", version=3)


@pytest.fixture
def executor():
    fake = FakeExecutor(ONBOARDING, CompositeUnit(id="7", name="Vendor_Check", version=1))
    register_composite_executor(fake)  # the autouse fixture of conftest removes it afterwards
    return fake


@pytest.fixture
def runner_api(api_client_for, runner):
    return api_client_for(runner)


def _types(tenant, run) -> list[str]:
    return list(
        ActivityEvent.objects.for_tenant(tenant)
        .filter(entity_id=str(run.pk))
        .order_by("id")
        .values_list("type", flat=True)
    )


def composite_run(world, runner, **kwargs) -> Run:
    return RunFactory(tenant=world.tenant, actor=runner, work_unit_id="Vendor_Onboarding", **kwargs)


def test_posting_a_composite_work_unit_starts_a_running_run_with_its_instance(world, runner, runner_api, executor):
    response = runner_api.post(
        "/api/v1/work-units/Vendor_Onboarding/run",
        {"work_unit_type": "composite", "input": {"vendor": "ACME"}},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "running" and body["execution"] == "workflow" and body["work_unit_type"] == "composite"
    assert body["workflow_instance_ref"] == "instance-1" and body["activity_version"] == "3"
    assert body["work_unit_id"] == "Vendor_Onboarding" and body["activity_id"] is None and body["attempt"] == 1
    [started] = executor.started
    assert started["unit"] == ONBOARDING and started["input"] == {"vendor": "ACME"} and started["actor"] == runner
    run = Run.objects.all_tenants().get(pk=body["id"])
    assert _types(world.tenant, run) == ["runs.run.created", "runs.run.started"]
    assert run.lease_expires_at is None  # no lease: the lease sweep never touches it


def test_without_a_type_an_unknown_activity_name_falls_back_to_the_executor(world, runner, executor):
    run = composite_run(world, runner)

    assert run.work_unit_type == WorkUnitType.COMPOSITE and run.status == RunStatus.RUNNING


def test_without_a_type_a_registry_activity_wins_over_a_template_of_the_same_name(
    world, vendor_check, runner, executor
):
    run = RunFactory(tenant=world.tenant, actor=runner, work_unit_id="Vendor_Check")

    assert run.work_unit_type == WorkUnitType.ATOMIC and run.status == RunStatus.PENDING and executor.started == []


def test_a_template_id_resolves_too(world, runner, executor):
    run = RunFactory(tenant=world.tenant, actor=runner, work_unit_id="41", work_unit_type="composite")

    assert run.work_unit_id == "Vendor_Onboarding" and run.activity_version == "3"


def test_with_no_executor_registered_a_composite_run_is_refused_clearly(world, runner, runner_api):
    response = runner_api.post(
        "/api/v1/work-units/Vendor_Onboarding/run", {"work_unit_type": "composite"}, format="json"
    )

    assert response.status_code == 400 and response.json()["error_code"] == "VALIDATION_ERROR"
    assert "no workflow engine" in response.json()["message"]
    assert not Run.objects.all_tenants().exists()


def test_an_unknown_composite_work_unit_is_404(world, runner, runner_api, executor):
    response = runner_api.post("/api/v1/work-units/Nope/run", {"work_unit_type": "composite"}, format="json")

    assert response.status_code == 404 and response.json()["error_code"] == "NOT_FOUND"


@pytest.mark.parametrize("execution", ["agent", "in_process"])
def test_a_composite_run_cannot_ask_for_another_execution(world, runner, executor, execution):
    with pytest.raises(errors.ValidationError, match="workflow engine"):
        composite_run(world, runner, execution=execution)


def test_an_atomic_work_unit_cannot_ask_for_workflow_execution(world, vendor_check, runner):
    with pytest.raises(errors.ValidationError, match="atomic"):
        RunFactory(tenant=world.tenant, actor=runner, execution=Execution.WORKFLOW)


def test_when_the_executor_refuses_to_start_nothing_is_written(world, runner):
    register_composite_executor(FakeExecutor(ONBOARDING, fail_start=errors.Conflict("template retired")))

    with pytest.raises(errors.Conflict, match="template retired"):
        composite_run(world, runner)

    assert (
        not Run.objects.all_tenants().exists()
        and not ActivityEvent.objects.for_tenant(world.tenant).filter(entity_type="run").exists()
    )


def test_the_instance_completing_completes_the_run_once(world, runner, executor):
    run = composite_run(world, runner)

    done = composite_run_finished(actor=None, run_id=run.pk, outcome="completed", output={"approved": True})
    again = composite_run_finished(actor=None, run_id=run.pk, outcome="failed", error="late")

    assert done.status == RunStatus.COMPLETED and done.output == {"approved": True} and done.completed_at is not None
    assert again.status == RunStatus.COMPLETED and reload(run).error == ""  # idempotent: unchanged
    assert _types(world.tenant, run) == ["runs.run.created", "runs.run.started", "runs.run.completed"]
    assert selectors.activity_summary(tenant=world.tenant)["completed"] == 1
    assert selectors.activity_summary(tenant=world.tenant)["running"] == 0


def test_the_instance_failing_fails_the_run_with_its_error(world, runner, executor):
    run = composite_run(world, runner)

    failed = composite_run_finished(actor=None, run_id=run.pk, outcome="failed", error="step 2 failed")

    assert failed.status == RunStatus.FAILED and failed.error == "step 2 failed"
    assert failed.error_type == "WorkflowFailed" and failed.duration_ms is not None


def test_the_instance_cancelled_by_the_engine_cancels_the_run(world, runner, executor):
    run = composite_run(world, runner)

    ended = composite_run_finished(actor=None, run_id=run.pk, outcome="cancelled")

    assert ended.status == RunStatus.CANCELLED and ended.error_type == "Cancelled"


def test_finishing_rejects_an_unknown_outcome_and_an_atomic_run(world, vendor_check, runner, executor):
    run = composite_run(world, runner)
    atomic = RunFactory(tenant=world.tenant, actor=runner, work_unit_id="Vendor_Check")

    with pytest.raises(errors.ValidationError):
        composite_run_finished(actor=None, run_id=run.pk, outcome="exploded")
    with pytest.raises(errors.ValidationError):
        composite_run_finished(actor=None, run_id=atomic.pk, outcome="completed")
    with pytest.raises(errors.NotFound):
        composite_run_finished(actor=None, run_id="not-a-uuid", outcome="completed")


def test_a_composite_run_records_no_registry_execution(world, vendor_check, runner, executor):
    run = RunFactory(tenant=world.tenant, actor=runner, work_unit_id="7", work_unit_type="composite")
    composite_run_finished(actor=None, run_id=run.pk, outcome="completed")

    assert registry_selectors.execution_stats(activity=vendor_check)["total_executions"] == 0


def test_cancelling_a_composite_run_cancels_its_instance_and_ends_the_run(world, runner, runner_api, executor):
    run = composite_run(world, runner)

    response = runner_api.post(f"/api/v1/runs/{run.pk}/cancel", {"reason": "not needed"}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "cancelled"
    assert executor.cancelled == [{"run_id": run.pk, "instance_ref": "instance-1", "reason": "not needed"}]
    assert _types(world.tenant, run)[-1] == "runs.run.cancelled"


def test_an_executor_that_reports_the_cancellation_itself_ends_the_run_once(world, runner):
    def report(run):
        composite_run_finished(actor=None, run_id=run.pk, outcome="cancelled")

    register_composite_executor(FakeExecutor(ONBOARDING, on_cancel=report))
    run = composite_run(world, runner)

    cancelled = services.run_cancel(tenant=world.tenant, actor=runner, run_id=run.pk)

    assert cancelled.status == RunStatus.CANCELLED
    assert _types(world.tenant, run).count("runs.run.cancelled") == 1


def test_the_lease_sweep_leaves_a_composite_run_alone(world, runner, executor, clock):
    run = composite_run(world, runner)
    clock.advance(days=3)

    services.runs_settle()

    assert reload(run).status == RunStatus.RUNNING


def test_a_composite_work_unit_can_be_delegated_to_a_workspace_and_run_there(world, runner, executor):
    workspace = WorkspaceFactory(tenant=world.tenant, actor=world.admin, name="Onboarding")
    services.member_add(tenant=world.tenant, actor=world.admin, workspace_id=workspace.pk, user_id=runner.pk)
    unit = services.work_unit_add(
        tenant=world.tenant, actor=world.admin, workspace_id=workspace.pk, work_unit_id="41", work_unit_type="composite"
    )

    run = composite_run(world, runner, workspace_id=workspace.pk)

    assert (unit.work_unit_id, unit.work_unit_type) == ("Vendor_Onboarding", "composite")
    assert run.workspace_id == workspace.pk and run.status == RunStatus.RUNNING


def test_delegating_a_composite_work_unit_without_an_executor_is_refused(world):
    workspace = WorkspaceFactory(tenant=world.tenant, actor=world.admin, name="Onboarding")

    with pytest.raises(errors.ValidationError, match="no workflow engine"):
        services.work_unit_add(tenant=world.tenant, actor=world.admin, workspace_id=workspace.pk,
                               work_unit_id="Vendor_Onboarding", work_unit_type="composite")  # fmt: skip


def test_a_repeated_idempotency_key_returns_the_first_composite_run(world, runner, executor):
    first = composite_run(world, runner, idempotency_key="k1", input={"a": 1})
    again, created = services.run_create(
        tenant=world.tenant, actor=runner, work_unit_id="41", idempotency_key="k1", input={"a": 1}
    )

    assert again.pk == first.pk and created is False and len(executor.started) == 1
