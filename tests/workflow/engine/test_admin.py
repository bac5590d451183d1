"""The engine's admin: the template page draws its dependency graph, the instance page shows every
phase and activity with its state, and the operator's buttons call the engine's services."""

import json

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from ocx.core.access import Role
from tests.factories import member
from tests.workflow.engine.factories import activity, acts, definition, phase, published
from workflow.engine import services
from workflow.engine.data import TEST_CYCLE
from workflow.engine.models import ActivityState, Incident, InstanceState, WorkflowInstance

pytestmark = pytest.mark.django_db


def _staff(tenant, role=Role.ADMIN, username="engine-staff", codenames="_"):
    """A staff user of ``tenant`` with the workflow app's model permissions (those containing
    ``codenames``); what they may operate is their role's (tenant admins)."""
    user = member(tenant, role, username=username)
    user.is_staff = True
    user.save()
    models = Permission.objects.filter(content_type__app_label="workflow", codename__contains=codenames)
    user.user_permissions.set(models.filter(codename__regex=r"^(view|change|add|delete)_"))
    return user


@pytest.fixture
def staff(tenant):
    return _staff(tenant)


def _failed_branch_instance(run, tenant, actor, recorder):
    recorder.failures["y"] = 1
    recorder.error_type["y"] = "Broken"
    data = definition(
        phase(
            "fan",
            1,
            activity("per", execution_mode="parallel", retry_policy={"maximum_attempts": 1}),
            mode="parallel",
            fan_out_over="xs",
        ),
        phase("after", 2, activity("after")),
    )
    template = published(tenant, actor, data)
    inst = run(services.instance_start, tenant=tenant, actor=actor, template_id=template.pk, context={"xs": ["x", "y"]})
    inst.refresh_from_db()
    assert inst.state == InstanceState.FAILED
    return inst


def test_template_page_draws_the_dependency_graph_as_svg(client, tenant, staff):
    template = published(tenant, staff, json.loads(TEST_CYCLE.read_text()))
    client.force_login(staff)

    page = client.get(reverse("admin:workflow_workflowtemplate_change", args=[template.pk])).content.decode()

    assert page.count('<g class="wf-box') == 49
    assert page.count('<g class="wf-box manual') == 20
    assert 'class="wf-edge explicit"' in page  # the 17 explicit dependencies are drawn dark
    assert "ocx/engine.css" in page and "<script>" not in page.split('id="content"')[1]
    assert "New draft version" in page  # published: its one operation


def test_instance_page_shows_phases_activities_and_the_operator_buttons(run, client, tenant, staff, recorder):
    inst = _failed_branch_instance(run, tenant, staff, recorder)
    client.force_login(staff)

    page = client.get(reverse("admin:workflow_workflowinstance_change", args=[inst.pk])).content.decode()

    assert '<span class="wf-state failed">failed</span>' in page and "per[1]" in page
    assert "Broken: y failed" in page
    for label in ("Retry from failure", "Skip a failed activity", "Cancel instance"):
        assert label in page


def test_members_see_the_instance_but_no_operator_button(run, client, tenant, admin_user, recorder):
    inst = _failed_branch_instance(run, tenant, admin_user, recorder)
    viewer = _staff(tenant, Role.MEMBER, username="engine-member", codenames="view_")
    client.force_login(viewer)

    page = client.get(reverse("admin:workflow_workflowinstance_change", args=[inst.pk]))
    action = client.get(reverse("admin:workflow_workflowinstance_action", args=[inst.pk, "resume"]))

    assert page.status_code == 200 and "Retry from failure" not in page.content.decode()
    assert action.status_code == 403


def test_retry_from_failure_in_the_admin_reruns_only_the_failed_branch(
    run, client, tenant, staff, recorder, django_capture_on_commit_callbacks
):
    inst = _failed_branch_instance(run, tenant, staff, recorder)
    client.force_login(staff)
    url = reverse("admin:workflow_workflowinstance_action", args=[inst.pk, "resume"])

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"reason": "fixed the data"})

    assert response.status_code == 302
    inst.refresh_from_db()
    assert inst.state == InstanceState.COMPLETED
    assert [c[1] for c in recorder.ran("per")] == ["x", "y", "y"]  # x kept, y run again
    assert Incident.objects.for_tenant(tenant).get(workflow=inst).resolution == "retried"
    assert inst.history.filter(history_change_reason="fixed the data").exists()


def test_skip_in_the_admin_needs_a_reason_and_moves_on(
    run, client, tenant, staff, recorder, django_capture_on_commit_callbacks
):
    inst = _failed_branch_instance(run, tenant, staff, recorder)
    branch = acts(inst)["per[1]"]
    client.force_login(staff)
    url = reverse("admin:workflow_workflowinstance_action", args=[inst.pk, "skip-activity"])

    refused = client.post(url, {"activity_id": branch.pk, "reason": ""})
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(url, {"activity_id": branch.pk, "reason": "owner left the company"})

    assert refused.status_code == 200 and "This field is required" in refused.content.decode()
    assert done.status_code == 302
    rows = acts(WorkflowInstance.objects.for_tenant(tenant).get(pk=inst.pk))
    assert (rows["per[1]"].state, rows["per[1]"].skip_reason) == (ActivityState.SKIPPED, "owner left the company")
    assert rows["after"].state == ActivityState.COMPLETED


def test_cancel_in_the_admin_goes_through_the_service(run, client, tenant, staff, recorder):
    data = definition(phase("p", 1, activity("ask", handler="ManualActivityHandler", manual=True)))
    template = published(tenant, staff, data)
    inst = run(services.instance_start, tenant=tenant, actor=staff, template_id=template.pk)
    client.force_login(staff)

    response = client.post(
        reverse("admin:workflow_workflowinstance_action", args=[inst.pk, "cancel"]), {"reason": "duplicate"}
    )

    assert response.status_code == 302
    inst.refresh_from_db()
    assert inst.state == InstanceState.CANCELLED
    assert acts(inst)["ask"].state == ActivityState.CANCELLED
    assert inst.history.filter(history_change_reason="duplicate").exists()
