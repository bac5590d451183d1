"""The engine and the runs app: a template runs as a composite work unit (its instance's end
finishes the run), the ``RunWorkUnitHandler`` waits for a run without holding a worker, and
cancelling an instance reaches its running work (revoked attempts, cancelled child runs).
Celery is eager here: what a service queues runs when the ``run`` fixture's block commits."""

import pytest
from celery import current_app

from ocx.core.access import Role
from runs import services as runs_services
from runs.selectors import run_get
from tests.factories import member
from tests.registry.factories import RegistryWorld
from tests.workflow.engine.factories import activity, acts, definition, phase, published
from workflow.engine import services
from workflow.engine.models import ActivityState, Incident, InstanceState, WorkflowInstance

pytestmark = pytest.mark.django_db


def _instance_of(run_obj):
    return WorkflowInstance.objects.for_tenant(run_obj.tenant_id).get(run_id=run_obj.pk)


def test_a_template_runs_as_a_composite_work_unit_and_its_end_finishes_the_run(run, tenant, admin_user, recorder):
    published(tenant, admin_user, definition(phase("p", 1, activity("a"), activity("b")), name="Child"))

    created, _ = run(
        runs_services.run_create, tenant=tenant, actor=admin_user, work_unit_id="Child", work_unit_type="composite",
        input={"customer": "c-1"},
    )  # fmt: skip

    finished = run_get(tenant=tenant, run_id=created.pk)
    inst = _instance_of(created)
    assert (inst.state, finished.status) == (InstanceState.COMPLETED, "completed")
    assert finished.workflow_instance_ref == str(inst.pk)
    assert finished.output["customer"] == "c-1" and finished.output["b_done"] is True


def test_a_failed_instance_fails_its_composite_run_with_the_error_type(run, tenant, admin_user, recorder):
    recorder.failures["a"] = 1
    recorder.error_type["a"] = "LedgerClosed"
    published(tenant, admin_user, definition(phase("p", 1, activity("a", retry_policy={"maximum_attempts": 1}))))

    created, _ = run(runs_services.run_create, tenant=tenant, actor=admin_user, work_unit_id="t", input={})

    finished = run_get(tenant=tenant, run_id=created.pk)
    assert (finished.status, finished.error_type) == ("failed", "LedgerClosed")
    assert "a failed" in finished.error


def test_cancelling_a_composite_run_cancels_its_instance(run, tenant, admin_user, recorder):
    manual = activity("ask", handler="ManualActivityHandler", manual=True)
    published(tenant, admin_user, definition(phase("p", 1, manual), name="Waits"))
    created, _ = run(runs_services.run_create, tenant=tenant, actor=admin_user, work_unit_id="Waits", input={})
    assert _instance_of(created).state == InstanceState.RUNNING

    run(runs_services.run_cancel, tenant=tenant, actor=admin_user, run_id=created.pk, reason="not needed")

    assert run_get(tenant=tenant, run_id=created.pk).status == "cancelled"
    inst = _instance_of(created)
    assert inst.state == InstanceState.CANCELLED and acts(inst)["ask"].state == ActivityState.CANCELLED


@pytest.fixture
def po_approval(tenant, settings):
    settings.OCX_REGISTRY_REQUIRED_APPROVALS = ["TECHNICAL"]
    world = RegistryWorld(
        tenant=tenant, creator=member(tenant, Role.MEMBER, username="po-creator"),
        admin=member(tenant, Role.ADMIN, username="po-admin"),
        approvers={"TECHNICAL": member(tenant, Role.APPROVER_TECHNICAL, username="po-technical")},
        viewer=None, other_tenant=None, other_admin=None,
    )  # fmt: skip
    return world.active(name="PO_Approval")  # its in-process handler is runs.demo's


def test_run_work_unit_waits_for_an_atomic_run_and_merges_its_output(run, tenant, admin_user, recorder, po_approval):
    step = activity(
        "approve_po",
        handler="RunWorkUnitHandler",
        parameters={"work_unit_id": "PO_Approval", "input_from_context": ["purchase_order"]},
    )
    template = published(tenant, admin_user, definition(phase("p", 1, step, activity("after"))))

    inst = run(
        services.instance_start, tenant=tenant, actor=admin_user, template_id=template.pk,
        context={"purchase_order": {"id": "PO-1", "amount": 25000}},
    )  # fmt: skip

    inst.refresh_from_db()
    row = acts(inst)["approve_po"]
    child = run_get(tenant=tenant, run_id=row.run_id)
    assert inst.state == InstanceState.COMPLETED
    assert (child.status, child.work_unit_id, child.input) == ("completed", "PO_Approval", {"purchase_order": {"id": "PO-1", "amount": 25000}})  # fmt: skip
    assert child.idempotency_key == f"workflow-activity:{row.pk}:1" and child.user_id == admin_user.pk
    assert inst.context["decision"] == "approval_required" and inst.context["approver"] == "Finance Manager"
    assert row.result["_run_id"] == str(child.pk) and "_run_id" not in inst.context
    assert len(recorder.ran("after")) == 1


def test_run_work_unit_fails_the_activity_with_the_runs_error_type(run, tenant, admin_user, recorder):
    recorder.failures["inner"] = 1
    recorder.error_type["inner"] = "VendorBlocked"
    published(tenant, admin_user, definition(phase("p", 1, activity("inner", retry_policy={"maximum_attempts": 1})), name="Inner"))  # fmt: skip
    step = activity(
        "outer",
        handler="RunWorkUnitHandler",
        parameters={"work_unit_id": "Inner", "work_unit_type": "composite"},
        retry_policy={"maximum_attempts": 3, "non_retryable_error_types": ["VendorBlocked"]},
    )
    template = published(tenant, admin_user, definition(phase("p", 1, step), name="Outer"))

    inst = run(services.instance_start, tenant=tenant, actor=admin_user, template_id=template.pk)

    inst.refresh_from_db()
    row = acts(inst)["outer"]
    assert (inst.state, row.state, row.last_error_type, row.retry_count) == (
        InstanceState.FAILED, ActivityState.FAILED, "VendorBlocked", 1,
    )  # fmt: skip
    assert Incident.objects.for_tenant(tenant).get(workflow=inst).error_type == "VendorBlocked"
    assert len(recorder.ran("inner")) == 1  # not retried: the error type is non-retryable


def test_cancelling_an_instance_cancels_the_run_its_activity_waits_for(run, tenant, admin_user, recorder):
    manual = activity("ask", handler="ManualActivityHandler", manual=True)
    published(tenant, admin_user, definition(phase("p", 1, manual), name="Inner"))
    step = activity("outer", handler="RunWorkUnitHandler", parameters={"work_unit_id": "Inner"})
    template = published(tenant, admin_user, definition(phase("p", 1, step), name="Outer"))
    inst = run(services.instance_start, tenant=tenant, actor=admin_user, template_id=template.pk)
    row = acts(inst)["outer"]
    assert row.state == ActivityState.RUNNING and row.run_id is not None  # waiting, no worker held

    run(services.instance_cancel, tenant=tenant, actor=admin_user, instance_id=inst.pk, reason="stop")

    child = run_get(tenant=tenant, run_id=row.run_id)
    assert child.status == "cancelled"
    assert _instance_of(child).state == InstanceState.CANCELLED
    assert acts(inst)["outer"].state == ActivityState.CANCELLED


def test_cancelling_an_instance_revokes_the_celery_tasks_of_its_queued_attempts(
    tenant, admin_user, recorder, sent, monkeypatch, django_capture_on_commit_callbacks
):
    revoked = []
    monkeypatch.setitem(current_app.conf, "task_always_eager", False)
    monkeypatch.setattr(current_app.control, "revoke", lambda ids, **kw: revoked.extend(ids))
    data = definition(phase("fan", 1, activity("per", execution_mode="parallel"), mode="parallel", fan_out_over="xs"))
    template = published(tenant, admin_user, data)
    with django_capture_on_commit_callbacks(execute=True):
        inst = services.instance_start(tenant=tenant, actor=admin_user, template_id=template.pk, context={"xs": [1, 2]})
    queued = {options["task_id"] for _id, _attempt, _countdown, options in sent}
    assert services.activity_begin(activity_id=sent[0][0], attempt=1) is not None  # one attempt is running

    with django_capture_on_commit_callbacks(execute=True):
        services.instance_cancel(tenant=tenant, actor=admin_user, instance_id=inst.pk, reason="stop")

    assert set(revoked) == queued and len(queued) == 2
    assert queued == {f"wf-act-{a.pk}-1" for k, a in acts(inst).items() if k.startswith("per[")}


def test_a_run_waited_for_past_the_activity_timeout_is_cancelled(run, tenant, admin_user, recorder, clock):
    manual = activity("ask", handler="ManualActivityHandler", manual=True)
    published(tenant, admin_user, definition(phase("p", 1, manual), name="Inner"))
    step = activity(
        "outer",
        handler="RunWorkUnitHandler",
        parameters={"work_unit_id": "Inner"},
        timeout_seconds=60,
        retry_policy={"maximum_attempts": 1},
    )
    template = published(tenant, admin_user, definition(phase("p", 1, step), name="Outer"))
    inst = run(services.instance_start, tenant=tenant, actor=admin_user, template_id=template.pk)
    child_id = acts(inst)["outer"].run_id

    clock.advance(61)
    swept = run(services.sweep)

    assert swept["timed_out"] == 1
    row = acts(inst)["outer"]
    assert (row.state, row.last_error_type) == (ActivityState.FAILED, "ActivityTimeout")
    assert run_get(tenant=tenant, run_id=child_id).status == "cancelled"
    assert _instance_of(run_get(tenant=tenant, run_id=child_id)).state == InstanceState.CANCELLED
