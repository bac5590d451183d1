"""Who may do what: viewers read but run nothing, agents need RECORD_EXECUTION, anonymous
callers are refused."""

import pytest

from tests.runs.factories import RunFactory, claim

pytestmark = pytest.mark.django_db


def test_a_viewer_cannot_run_a_work_unit(world, vendor_check, api_client_for):
    response = api_client_for(world.viewer).post("/api/v1/work-units/Vendor_Check/run", {}, format="json")

    assert response.status_code == 403 and response.json()["error_code"] == "PERMISSION_DENIED"
    assert response.json()["details"] == {"required_permission": "RUN_WORK_UNIT"}


def test_a_viewer_reads_runs_activity_and_workspaces(world, vendor_check, runner, api_client_for):
    run = RunFactory(tenant=world.tenant, actor=runner)
    api = api_client_for(world.viewer)

    for path in ("/api/v1/runs", f"/api/v1/runs/{run.pk}", "/api/v1/runs/recent", "/api/v1/activity/team",
                 "/api/v1/activity/my", "/api/v1/activity/summary", "/api/v1/workspaces",
                 "/api/v1/work-units/Vendor_Check/runs"):  # fmt: skip
        assert api.get(path).status_code == 200, path


@pytest.mark.parametrize("action", ["claim", "heartbeat", "complete", "fail"])
def test_a_viewer_cannot_act_as_an_agent(world, vendor_check, runner, agent, api_client_for, action):
    RunFactory(tenant=world.tenant, actor=runner)
    [run] = claim(world.tenant, agent)
    lease = {"lease_token": str(run.lease_token), "attempt": 1}
    path, body = {
        "claim": ("/api/v1/runs/claim", {"worker_id": "v"}),
        "heartbeat": (f"/api/v1/runs/{run.pk}/heartbeat", lease),
        "complete": (f"/api/v1/runs/{run.pk}/complete", lease),
        "fail": (f"/api/v1/runs/{run.pk}/fail", {**lease, "error": "x"}),
    }[action]

    response = api_client_for(world.viewer).post(path, body, format="json")
    assert response.status_code == 403 and response.json()["details"] == {"required_permission": "RECORD_EXECUTION"}


def test_a_viewer_cannot_cancel_someone_elses_run(world, vendor_check, runner, api_client_for):
    run = RunFactory(tenant=world.tenant, actor=runner)
    assert api_client_for(world.viewer).post(f"/api/v1/runs/{run.pk}/cancel", {}, format="json").status_code == 403


def test_a_viewer_cannot_create_a_workspace(world, api_client_for):
    assert api_client_for(world.viewer).post("/api/v1/workspaces", {"name": "X"}, format="json").status_code == 403


@pytest.mark.parametrize(
    "method,path",
    [("get", "/api/v1/runs"), ("get", "/api/v1/activity/team"), ("post", "/api/v1/runs/claim"),
     ("post", "/api/v1/work-units/Vendor_Check/run"), ("get", "/api/v1/workspaces")],
)  # fmt: skip
def test_anonymous_callers_are_refused(anon_api, method, path):
    response = getattr(anon_api, method)(path)
    assert response.status_code == 401 and response.json()["error_code"] == "NOT_AUTHENTICATED"
