"""The operators' dashboard shows the tenant's figures and refreshes them from a JSON endpoint."""

from django.urls import reverse

from ocx.core.access import Role
from registry import services
from tests.factories import member


def test_dashboard_shows_registry_workflow_and_spine_figures(client, tenant):
    user = member(tenant, Role.ADMIN, username="operator")
    services.activity_create(tenant=tenant, actor=user, name="PO_Approval", version="1.0.0", ebcl_source="x", owner="o")
    client.force_login(user)

    response = client.get(reverse("dashboard"))

    assert response.status_code == 200
    assert response.context["summary"]["registry"]["activities"]["DRAFT"] == 1
    assert b"Pending approvals" in response.content and b"Outbox backlog" in response.content


def test_summary_endpoint_is_tenant_scoped(client, tenant, other_tenant):
    user = member(tenant, Role.MEMBER, username="operator")
    outsider = member(other_tenant, Role.MEMBER, username="outsider")
    services.activity_create(tenant=tenant, actor=user, name="Mine", version="1.0.0", ebcl_source="x", owner="o")

    client.force_login(outsider)
    theirs = client.get(reverse("dashboard-summary")).json()
    refused = client.get(reverse("dashboard-summary") + "?tenant=acme-corp")

    assert theirs["registry"]["activities"]["DRAFT"] == 0
    assert refused.status_code == 403 and refused.json()["error_code"] == "PERMISSION_DENIED"


def test_dashboard_needs_login(client):
    assert client.get(reverse("dashboard-summary")).status_code == 302


def _approver_world(tenant):
    from tests.registry.factories import PO_APPROVAL_SOURCE

    creator = member(tenant, Role.MEMBER, username="author")
    for kind in ("TECHNICAL", "BUSINESS"):
        activity = services.activity_create(
            tenant=tenant, actor=creator, name=f"PO_{kind}", version="1.0.0", ebcl_source=PO_APPROVAL_SOURCE, owner="o"
        )
        services.activity_request_approval(tenant=tenant, actor=creator, activity_id=activity.pk, approval_type=kind)
    return creator


def test_the_pending_approvals_count_links_to_a_queue_of_those_same_approvals(client, tenant, other_tenant):
    from django.contrib.auth.models import Permission

    _approver_world(tenant)
    _approver_world(other_tenant)  # another tenant's approvals: neither counted nor listed
    user = member(tenant, Role.APPROVER_COMPLIANCE, username="operator")
    user.is_staff = True
    user.save()
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="registry"))
    client.force_login(user)

    page = client.get(reverse("dashboard"))
    queue = client.get(page.context["pending_approvals_url"])

    count = page.context["summary"]["registry"]["pending_approvals"]
    assert count == 2
    assert f'href="{page.context["pending_approvals_url"]}"'.replace("&", "&amp;") in page.content.decode()
    assert queue.status_code == 200 and queue.context["cl"].result_count == count
    assert {a.approval_status for a in queue.context["cl"].result_list} == {"PENDING"}


def test_the_dashboards_api_link_answers(client, tenant):
    user = member(tenant, Role.MEMBER, username="operator")
    client.force_login(user)

    page = client.get(reverse("dashboard")).content.decode()
    api = client.get("/api/v1/", HTTP_ACCEPT="text/html")

    assert 'href="/api/v1/"' in page
    assert api.status_code == 200


def test_a_non_member_sees_the_error_and_a_way_back_not_connecting_for_ever(client, tenant, other_tenant):
    user = member(other_tenant, Role.MEMBER, username="outsider")
    client.force_login(user)

    response = client.get(reverse("dashboard") + "?tenant=acme-corp")

    text = response.content.decode()
    assert response.status_code == 403
    assert "You are not a member of tenant &#x27;acme-corp&#x27;." in text
    assert 'href="?tenant=globex"' in text and 'id="tenant-switcher"' in text
    assert "connecting…" not in text and 'id="ws-status"' not in text


def test_the_dashboard_has_no_inline_script_or_handler(client, tenant):
    client.force_login(member(tenant, Role.MEMBER, username="operator"))

    text = client.get(reverse("dashboard")).content.decode()

    assert "onchange=" not in text and "<script>" not in text and "style=" not in text
