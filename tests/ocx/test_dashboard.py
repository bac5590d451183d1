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
