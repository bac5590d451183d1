"""The admin's operations are the models' declared transitions (``@transition(custom=…)``) plus
the activity's extra operations, each run through its service: what each page offers, and what
each button does."""

import pytest
from django.urls import reverse

from registry import services
from registry.models import ActivityStatus, ApprovalStatus, DeploymentStatus
from tests.registry.test_deployments import _next_version


@pytest.fixture
def staff(world):
    from django.contrib.auth.models import Permission

    perms = Permission.objects.filter(content_type__app_label="registry")
    for user in [world.creator, world.admin, *world.approvers.values()]:
        user.is_staff = True
        user.save()
        user.user_permissions.set(perms)
    return world


def _labels(client, name, pk):
    page = client.get(reverse(f"admin:registry_{name}_change", args=[pk]))
    assert page.status_code == 200
    return {label: url for label, url in page.context["ocx_actions"]}


def test_a_draft_offers_request_and_retire_and_requesting_opens_a_round(staff, client):
    activity = staff.create()
    client.force_login(staff.creator)

    labels = _labels(client, "activity", activity.pk)
    response = client.post(labels["Request approvals"], {"comments": "please"})

    assert set(labels) == {"Request approvals", "New version"}  # retiring needs the suspend permission
    assert response.status_code == 302
    activity = staff.reload(activity)
    assert activity.status == ActivityStatus.REVIEW
    assert {a.comments for a in activity.approvals.all()} == {"please"}


def test_the_operation_page_shows_the_status_and_where_the_activity_is_live(staff, client):
    activity = staff.active("PROD")
    client.force_login(staff.admin)

    page = client.get(reverse("admin:registry_activity_action", args=[activity.pk, "suspend"]))

    assert page.status_code == 200
    assert "admin/registry/activity/operation.html" in [t.name for t in page.templates]
    assert b"status <strong>Active</strong>" in page.content and b"PROD (acme-corp)" in page.content


def test_new_version_from_the_admin_opens_the_new_draft(staff, client):
    activity = staff.active()
    client.force_login(staff.creator)

    response = client.post(
        _labels(client, "activity", activity.pk)["New version"],
        {"version_type": "MAJOR", "change_summary": "new rules", "breaking_changes": "one\n\ntwo\n"},
    )

    new = activity.version_record.__class__.objects.for_tenant(staff.tenant).get(previous_activity=activity)
    assert response.status_code == 302 and response["Location"] == reverse(
        "admin:registry_activity_change", args=[new.activity_id]
    )
    assert new.version == "2.0.0" and new.breaking_changes == ["one", "two"]


def test_rollback_from_the_activity_page_and_from_the_deployment_page(staff, client):
    v1 = staff.active(name="PO")
    v2 = _next_version(staff, v1)
    d2 = staff.deploy(v2, "PROD")
    client.force_login(staff.admin)

    assert "Roll back" not in _labels(client, "activity", v1.pk)  # its deployment superseded nothing
    deployment_labels = _labels(client, "deployment", d2.pk)
    response = client.post(deployment_labels["Roll back"], {"rollback_reason": "bug"})

    assert response.status_code == 302
    d2.refresh_from_db()
    assert d2.status == DeploymentStatus.ROLLED_BACK and d2.end_reason == "bug" and d2.ended_by == staff.admin
    assert staff.reload(v1).status == ActivityStatus.ACTIVE
    assert _labels(client, "deployment", d2.pk) == {}


def test_rollback_is_offered_on_the_activity_page_of_a_superseding_deployment(staff, client):
    v1 = staff.active(name="PO")
    v2 = _next_version(staff, v1)
    d2 = staff.deploy(v2, "PROD")
    client.force_login(staff.admin)

    url = _labels(client, "activity", v2.pk)["Roll back"]
    response = client.post(url, {"deployment": d2.pk, "rollback_reason": "bug"})

    assert response.status_code == 302
    assert staff.reload(v2).status == ActivityStatus.DEPLOYED


def test_an_approver_decides_from_the_approval_page(staff, client):
    activity = staff.create()
    _, approvals = staff.request_all(activity)
    security = next(a for a in approvals if a.approval_type == "SECURITY")
    client.force_login(staff.approvers["SECURITY"])

    labels = _labels(client, "approval", security.pk)
    response = client.post(labels["Reject"], {"comments": "weak crypto"})

    assert set(labels) == {"Approve", "Reject"}
    assert response.status_code == 302
    security.refresh_from_db()
    assert security.approval_status == ApprovalStatus.REJECTED and security.decision_comments == "weak crypto"
    assert staff.reload(activity).status == ActivityStatus.DRAFT
    assert {a.approval_status for a in approvals if a.pk != security.pk} == {ApprovalStatus.PENDING}  # stale objects
    assert set(activity.approvals.exclude(pk=security.pk).values_list("approval_status", flat=True)) == {"VOID"}


def test_the_creator_or_another_role_cannot_decide_from_the_approval_page(staff, client):
    activity = staff.create()
    _, approvals = staff.request_all(activity)
    security = next(a for a in approvals if a.approval_type == "SECURITY")

    for user in (staff.creator, staff.approvers["TECHNICAL"]):
        client.force_login(user)
        assert _labels(client, "approval", security.pk) == {}
        url = reverse("admin:registry_approval_action", args=[security.pk, "approve"])
        assert client.post(url, {"comments": "x"}).status_code == 403
    security.refresh_from_db()
    assert security.approval_status == ApprovalStatus.PENDING


def test_a_refused_service_call_is_shown_on_the_form_and_nothing_changes(staff, client):
    activity = staff.approved()
    client.force_login(staff.admin)
    url = _labels(client, "activity", activity.pk)["Deploy"]

    response = client.post(
        url,
        {
            "environment": "PROD",
            "target_tenant": staff.tenant.pk,
            # the admin's split date and time widgets
            "effective_from_0": "2030-01-02",
            "effective_from_1": "00:00",
            "effective_until_0": "2030-01-01",
            "effective_until_1": "00:00",
        },
    )

    assert response.status_code == 200  # the form again, with the service's message
    assert "effective_until must be after effective_from." in [str(m) for m in response.context["messages"]]
    assert staff.reload(activity).status == ActivityStatus.APPROVED and not activity.deployments.exists()


def test_an_operation_drawn_for_a_former_state_is_gone(staff, client):
    activity = staff.active()
    client.force_login(staff.admin)
    url = _labels(client, "activity", activity.pk)["Suspend (emergency)"]
    services.activity_retire(tenant=staff.tenant, actor=staff.admin, activity_id=activity.pk)

    response = client.post(url, {"reason": "too late"})

    assert response.status_code == 404
    assert staff.reload(activity).status == ActivityStatus.RETIRED
