"""Every endpoint answers another tenant's run, workspace or work unit with 404 (never 403),
and no list or figure of one tenant shows another's rows."""

import pytest

from runs import services
from tests.runs.factories import RunFactory, WorkspaceFactory, claim

pytestmark = pytest.mark.django_db


@pytest.fixture
def acme(world, vendor_check, runner, agent):
    """acme-corp's run (running), workspace with a member and a work unit."""
    RunFactory(tenant=world.tenant, actor=runner)
    [run] = claim(world.tenant, agent)
    workspace = WorkspaceFactory(tenant=world.tenant, actor=world.admin)
    services.member_add(tenant=world.tenant, actor=world.admin, workspace_id=workspace.pk, user_id=runner.pk)
    services.work_unit_add(
        tenant=world.tenant, actor=world.admin, workspace_id=workspace.pk, work_unit_id="Vendor_Check"
    )
    return {"run": run, "ws": workspace, "user": runner}


@pytest.fixture
def globex_api(world, api_client_for):
    return api_client_for(world.other_admin)


def _requests(acme):
    run, ws, user = acme["run"], acme["ws"].pk, acme["user"].pk
    lease = {"lease_token": str(run.lease_token), "attempt": run.attempt}
    return [
        ("get", f"/api/v1/runs/{run.pk}", None),
        ("post", f"/api/v1/runs/{run.pk}/cancel", {}),
        ("post", f"/api/v1/runs/{run.pk}/heartbeat", lease),
        ("post", f"/api/v1/runs/{run.pk}/complete", lease),
        ("post", f"/api/v1/runs/{run.pk}/fail", {**lease, "error": "x"}),
        ("post", "/api/v1/work-units/Vendor_Check/run", {}),
        ("get", "/api/v1/work-units/Vendor_Check/runs", None),
        ("get", f"/api/v1/work-units/{run.activity_id}/runs", None),
        ("get", f"/api/v1/workspaces/{ws}", None),
        ("patch", f"/api/v1/workspaces/{ws}", {"name": "mine now"}),
        ("delete", f"/api/v1/workspaces/{ws}", None),
        ("post", f"/api/v1/workspaces/{ws}/archive", {}),
        ("get", f"/api/v1/workspaces/{ws}/members", None),
        ("post", f"/api/v1/workspaces/{ws}/members", {"user_id": "globex-admin"}),
        ("patch", f"/api/v1/workspaces/{ws}/members/{user}", {"role": "viewer"}),
        ("delete", f"/api/v1/workspaces/{ws}/members/{user}", None),
        ("get", f"/api/v1/workspaces/{ws}/work-units", None),
        ("post", f"/api/v1/workspaces/{ws}/work-units", {"work_unit_id": "Vendor_Check"}),
        ("delete", f"/api/v1/workspaces/{ws}/work-units/Vendor_Check", None),
    ]


def test_every_endpoint_answers_another_tenants_rows_with_404(acme, globex_api):
    for method, path, body in _requests(acme):
        response = (
            getattr(globex_api, method)(path, body, format="json")
            if body is not None
            else getattr(globex_api, method)(path)
        )
        assert response.status_code == 404, (method, path, response.status_code, response.content[:200])
        assert response.json()["error_code"] == "NOT_FOUND"


def test_lists_and_figures_show_only_the_callers_tenant(acme, globex_api):
    assert globex_api.get("/api/v1/runs").json()["results"] == []
    assert globex_api.get("/api/v1/runs/recent").json() == []
    assert globex_api.get("/api/v1/activity/team").json() == []
    assert globex_api.get("/api/v1/activity/summary").json()["total_runs"] == 0
    assert globex_api.get("/api/v1/workspaces").json()["results"] == []
    assert globex_api.post("/api/v1/runs/claim", {"worker_id": "g", "max_runs": 100}, format="json").json() == {
        "runs": []
    }


def test_a_member_of_both_tenants_acts_in_the_one_x_tenant_names(acme, world, api_client_for):
    from ocx.core.access import Role
    from tests.factories import MembershipFactory

    MembershipFactory(user=world.other_admin, tenant=world.tenant, role=Role.VIEWER)
    api = api_client_for(world.other_admin, "acme-corp")
    assert api.get(f"/api/v1/runs/{acme['run'].pk}").status_code == 200
    assert api_client_for(world.other_admin, "globex").get(f"/api/v1/runs/{acme['run'].pk}").status_code == 404
