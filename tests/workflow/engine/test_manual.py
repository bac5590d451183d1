from datetime import timedelta

import pytest

from activity_feed.models import ActivityEvent
from tests.workflow.engine.factories import activity, acts, definition, phase, published
from workflow import services as workflow_services
from workflow.engine import services
from workflow.engine.models import ActivityState, InstanceState
from workflow.engine.services.manual import on_event
from workflow.models import Task

pytestmark = pytest.mark.django_db

MANUAL = {"handler": "ManualActivityHandler", "manual": True}


def _start(run, tenant, actor, data, **kw):
    template = published(tenant, actor, data)
    return run(services.instance_start, tenant=tenant, actor=actor, template_id=template.pk, **kw)


def test_manual_activity_creates_a_task_due_by_the_seed_table(run, tenant, admin_user, member_user, recorder, clock):
    data = definition(
        phase(
            "p",
            1,
            activity("approve_budget", name="Approve Budget", parameters={"assignee": "acme-member"}, **MANUAL),
            activity("review_notes", name="Review Notes", **MANUAL),
            mode="parallel",
            fan_out_over="unused",
        )
    )
    inst = _start(run, tenant, admin_user, data, context={"unused": []})
    rows = acts(inst)
    approve, review = rows["approve_budget"], rows["review_notes"]
    assert approve.state == review.state == ActivityState.WAITING
    task = Task.objects.for_tenant(tenant).get(pk=approve.task_id)
    assert (task.task_type, task.assigned_to, task.due_date) == (
        "approval",
        member_user,
        clock.now + timedelta(hours=48),
    )
    assert Task.objects.for_tenant(tenant).get(pk=review.task_id).due_date == clock.now + timedelta(hours=24)
    assert task.metadata["engine_activity_id"] == approve.pk


def test_completing_through_the_api_merges_the_result_and_closes_the_task(
    run, tenant, admin_user, admin_api, recorder, django_capture_on_commit_callbacks
):
    inst = _start(run, tenant, admin_user, definition(phase("p", 1, activity("decide", **MANUAL), activity("after"))))
    waiting = acts(inst)["decide"]
    url = f"/api/v1/workflow/instances/{inst.pk}/activities/{waiting.pk}/complete"
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post(url, {"result": {"approved": True}}, format="json")
    assert response.status_code == 200, response.json()
    inst.refresh_from_db()
    assert inst.state == InstanceState.COMPLETED and inst.context["approved"] is True
    assert Task.objects.for_tenant(tenant).get(pk=waiting.task_id).state == "completed"
    again = admin_api.post(url, {"result": {}}, format="json")
    assert again.status_code == 409 and again.json()["error_code"] == "CONFLICT"


def test_completing_the_task_signals_the_activity_once(
    run, tenant, admin_user, recorder, django_capture_on_commit_callbacks
):
    inst = _start(run, tenant, admin_user, definition(phase("p", 1, activity("decide", **MANUAL), activity("after"))))
    waiting = acts(inst)["decide"]
    workflow_services.task_transition(
        tenant=tenant, task_id=waiting.task_id, target_state="in_progress", actor=admin_user
    )
    with django_capture_on_commit_callbacks(execute=True):
        workflow_services.task_transition(
            tenant=tenant,
            task_id=waiting.task_id,
            target_state="completed",
            actor=admin_user,
            context={"decision": "yes"},
        )
    event = ActivityEvent.objects.for_tenant(tenant).filter(type="workflow.task.completed").latest("id")
    with django_capture_on_commit_callbacks(execute=True):
        on_event(event)
        on_event(event)  # the outbox delivers at least once
    inst.refresh_from_db()
    assert inst.state == InstanceState.COMPLETED and inst.context["decision"] == "yes"
    assert len(recorder.ran("after")) == 1


def test_overdue_manual_activity_is_escalated_not_retried(run, tenant, admin_user, recorder, clock):
    inst = _start(
        run, tenant, admin_user, definition(phase("p", 1, activity("review_it", timeout_seconds=3600, **MANUAL)))
    )
    clock.advance(3601)
    assert services.sweep()["escalated"] == 1
    assert services.sweep()["escalated"] == 0
    row = acts(inst)["review_it"]
    assert row.state == ActivityState.WAITING and row.retry_count == 0
    types = list(ActivityEvent.objects.for_tenant(tenant).values_list("type", flat=True))
    assert types.count("workflow.activity.escalated") == 1 and "workflow.alert.raised" in types
