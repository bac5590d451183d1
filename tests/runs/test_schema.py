"""Every runs endpoint is in the OpenAPI schema as it behaves: its pages, its errors."""

import pytest
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db

ENDPOINTS = {
    ("/api/v1/work-units/{work_unit_id}/run", "post"): {"200", "201", "400", "403", "404", "409"},
    ("/api/v1/work-units/{work_unit_id}/runs", "get"): {"200", "404"},
    ("/api/v1/runs", "get"): {"200", "400"},
    ("/api/v1/runs/recent", "get"): {"200"},
    ("/api/v1/runs/claim", "post"): {"200", "400", "403"},
    ("/api/v1/runs/{run_id}", "get"): {"200", "404"},
    ("/api/v1/runs/{run_id}/heartbeat", "post"): {"200", "409"},
    ("/api/v1/runs/{run_id}/complete", "post"): {"200", "409"},
    ("/api/v1/runs/{run_id}/fail", "post"): {"200", "409"},
    ("/api/v1/runs/{run_id}/cancel", "post"): {"200", "400", "404"},
    ("/api/v1/activity/team", "get"): {"200"},
    ("/api/v1/activity/my", "get"): {"200"},
    ("/api/v1/activity/summary", "get"): {"200", "400"},
    ("/api/v1/workspaces", "get"): {"200"},
    ("/api/v1/workspaces", "post"): {"201", "403"},
    ("/api/v1/workspaces/{workspace_id}", "patch"): {"200", "404"},
    ("/api/v1/workspaces/{workspace_id}/members", "post"): {"201", "404", "409"},
    ("/api/v1/workspaces/{workspace_id}/members/{user_id}", "delete"): {"204", "409"},
    ("/api/v1/workspaces/{workspace_id}/work-units", "get"): {"200"},
    ("/api/v1/workspaces/{workspace_id}/work-units/{work_unit_id}", "delete"): {"204", "404"},
}


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def test_every_runs_endpoint_documents_its_responses(schema):
    for (path, method), codes in ENDPOINTS.items():
        operation = schema["paths"][path][method]
        assert codes <= set(operation["responses"]), (path, method, sorted(operation["responses"]))


def test_errors_are_documented_as_the_envelope(schema):
    conflict = schema["paths"]["/api/v1/runs/{run_id}/complete"]["post"]["responses"]["409"]
    assert conflict["content"]["application/json"]["schema"]["$ref"].endswith("/Error")
    assert set(schema["components"]["schemas"]["Error"]["properties"]) == {
        "success",
        "error_code",
        "message",
        "details",
    }


def test_pages_are_documented_as_they_are_returned(schema):
    runs = schema["paths"]["/api/v1/runs"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert runs["$ref"].endswith("/RunPage")
    assert set(schema["components"]["schemas"]["RunPage"]["properties"]) == {
        "results",
        "next_cursor",
        "has_more",
        "limit",
    }
    members = schema["paths"]["/api/v1/workspaces/{workspace_id}/members"]["get"]["responses"]["200"]
    paginated = members["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert {"count", "next", "results"} <= set(schema["components"]["schemas"][paginated]["properties"])


def test_the_run_result_has_the_seeds_fields(schema):
    fields = set(schema["components"]["schemas"]["Run"]["properties"])
    assert {"id", "status", "started_at", "completed_at", "input", "output", "error", "error_type", "attempt",
            "worker_id", "duration_ms", "work_unit_id", "activity_version", "deployment_id"} <= fields  # fmt: skip
    summary = set(schema["components"]["schemas"]["ActivitySummary"]["properties"])
    assert {"period_hours", "total_runs", "completed", "failed", "pending", "running", "success_rate"} <= summary
