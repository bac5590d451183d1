"""The admin: runs with filters, duration, attempt and worker, and a cancel button that goes
through the service; workspaces with member and work-unit inlines and their operations."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from runs.models import RunStatus
from tests.runs.factories import RunFactory, WorkspaceFactory, claim, reload

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(world):
    perms = Permission.objects.filter(content_type__app_label="runs")
    for user in (world.creator, world.admin, world.viewer, world.other_admin):
        user.is_staff = True
        user.save()
        user.user_permissions.set(perms)
    return world


def test_the_run_list_shows_attempt_worker_and_duration_and_filters_by_status_and_work_unit(
    staff, vendor_check, runner, agent, client
):
    RunFactory(tenant=staff.tenant, actor=runner)
    RunFactory(tenant=staff.tenant, actor=runner)
    claim(staff.tenant, agent, worker_id="agent-42")
    client.force_login(staff.admin)

    page = client.get(reverse("admin:runs_run_changelist"))
    assert page.status_code == 200 and b"agent-42" in page.content
    running = client.get(reverse("admin:runs_run_changelist"), {"status__exact": "running"})
    assert [r.status for r in running.context["cl"].result_list] == ["running"]
    by_unit = client.get(reverse("admin:runs_run_changelist"), {"work_unit": "Vendor_Check"})
    assert len(by_unit.context["cl"].result_list) == 2
    assert ("Vendor_Check", "Vendor_Check") in by_unit.context["cl"].filter_specs[1].lookup_choices


def test_cancel_from_the_run_page_goes_through_the_service(staff, vendor_check, runner, client):
    run = RunFactory(tenant=staff.tenant, actor=runner)
    client.force_login(staff.admin)

    page = client.get(reverse("admin:runs_run_change", args=[run.pk]))
    assert "Cancel run" in [label for label, _ in page.context["ocx_actions"]]
    url = reverse("admin:runs_run_action", args=[run.pk, "cancel"])
    assert client.get(url).status_code == 200
    response = client.post(url, {"reason": "duplicate"})

    assert response.status_code == 302 and reload(run).status == RunStatus.CANCELLED
    assert reload(run).history.order_by("-history_id").first().history_user == staff.admin


def test_a_viewer_gets_no_cancel_button(staff, vendor_check, runner, client):
    run = RunFactory(tenant=staff.tenant, actor=runner)
    client.force_login(staff.viewer)

    page = client.get(reverse("admin:runs_run_change", args=[run.pk]))
    assert page.context["ocx_actions"] == []
    assert client.post(reverse("admin:runs_run_action", args=[run.pk, "cancel"]), {}).status_code == 403


def test_another_tenants_staff_cannot_see_the_run(staff, vendor_check, runner, client):
    run = RunFactory(tenant=staff.tenant, actor=runner)
    client.force_login(staff.other_admin)

    assert client.get(reverse("admin:runs_run_change", args=[run.pk])).status_code in (302, 404)
    assert list(client.get(reverse("admin:runs_run_changelist")).context["cl"].result_list) == []


def test_the_workspace_page_shows_members_and_work_units_and_adds_a_member(staff, vendor_check, runner, client):
    from runs import services

    workspace = WorkspaceFactory(tenant=staff.tenant, actor=staff.admin, name="Procurement")
    services.work_unit_add(
        tenant=staff.tenant, actor=staff.admin, workspace_id=workspace.pk, work_unit_id="Vendor_Check"
    )
    client.force_login(staff.admin)

    page = client.get(reverse("admin:runs_workspace_change", args=[workspace.pk]))
    assert page.status_code == 200 and b"Vendor_Check" in page.content and b"acme-admin" in page.content
    response = client.post(reverse("admin:runs_workspace_action", args=[workspace.pk, "add-member"]),
                           {"user_id": runner.pk, "role": "viewer", "department": "AP"})  # fmt: skip

    assert response.status_code == 302
    assert workspace.members.get(user=runner).role == "viewer"
