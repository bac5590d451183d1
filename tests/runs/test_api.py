"""The HTTP surface: status codes, shapes (snake_case, the seed's fields), the error envelope,
keyset pages, and a constant number of queries on list endpoints."""

import pytest

from runs.models import RunStatus
from tests.runs.factories import RunFactory, claim

pytestmark = pytest.mark.django_db
SEED_RUN_RESULT = {"id", "status", "started_at", "completed_at", "input", "output", "error", "error_type"}


@pytest.fixture
def runner_api(api_client_for, runner):
    return api_client_for(runner)


@pytest.fixture
def agent_api(api_client_for, agent):
    return api_client_for(agent)


def test_post_run_creates_a_pending_run_201_with_the_seed_fields(world, vendor_check, runner_api):
    response = runner_api.post(
        "/api/v1/work-units/Vendor_Check/run", {"input": {"vendor": "ACME"}, "priority": 5}, format="json"
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert SEED_RUN_RESULT <= set(body)
    assert body["status"] == "pending" and body["input"] == {"vendor": "ACME"} and body["error"] is None
    assert body["work_unit_id"] == "Vendor_Check" and body["activity_version"] == "1.0.0"
    assert body["organization_id"] == "acme-corp" and body["execution"] == "agent" and body["priority"] == 5


def test_a_retried_post_with_the_same_idempotency_key_answers_200_with_the_first_run(world, vendor_check, runner_api):
    first = runner_api.post("/api/v1/work-units/Vendor_Check/run", {"idempotency_key": "abc"}, format="json")
    again = runner_api.post("/api/v1/work-units/Vendor_Check/run", {"idempotency_key": "abc"}, format="json")

    assert (first.status_code, again.status_code) == (201, 200) and again.json()["id"] == first.json()["id"]


@pytest.mark.parametrize(
    "body,status,code",
    [
        ({"work_unit_type": "composite"}, 400, "VALIDATION_ERROR"),
        ({"execution": "in_process"}, 400, "VALIDATION_ERROR"),
        ({"environment": "MOON"}, 400, "VALIDATION_ERROR"),
        ({"inptu": {}}, 400, "VALIDATION_ERROR"),
        ({"input": {"x": "y" * 300}}, 400, "PAYLOAD_TOO_LARGE"),
    ],
)
def test_bad_run_requests_get_the_error_envelope(world, vendor_check, runner_api, settings, body, status, code):
    settings.OCX_RUNS_MAX_INPUT_BYTES = 100
    response = runner_api.post("/api/v1/work-units/Vendor_Check/run", body, format="json")

    assert response.status_code == status
    assert response.json()["success"] is False and response.json()["error_code"] == code


def test_running_a_suspended_work_unit_is_409_with_a_clear_message(world, vendor_check, runner_api):
    from registry import services as registry_services

    registry_services.activity_suspend(tenant=world.tenant, actor=world.admin, activity_id=vendor_check.pk, reason="x")
    response = runner_api.post("/api/v1/work-units/Vendor_Check/run", {}, format="json")

    assert response.status_code == 409 and response.json()["error_code"] == "CONFLICT"
    assert "suspended" in response.json()["message"]


def test_the_agent_round_trip_over_http(world, vendor_check, runner_api, agent_api):
    run_id = runner_api.post("/api/v1/work-units/Vendor_Check/run", {"input": {"n": 1}}, format="json").json()["id"]

    claimed = agent_api.post("/api/v1/runs/claim", {"worker_id": "agent-9", "topics": ["Vendor_Check"]}, format="json")
    assert claimed.status_code == 200
    [run] = claimed.json()["runs"]
    assert run["id"] == run_id and run["attempt"] == 1 and run["input"] == {"n": 1} and run["details"] is None
    lease = {"lease_token": run["lease_token"], "attempt": run["attempt"]}

    beat = agent_api.post(f"/api/v1/runs/{run_id}/heartbeat", {**lease, "details": {"step": 1}}, format="json")
    assert beat.status_code == 200 and beat.json()["cancel_requested"] is False
    done = agent_api.post(f"/api/v1/runs/{run_id}/complete", {**lease, "output": {"risk": "low"}}, format="json")
    assert done.status_code == 200 and done.json()["status"] == "completed" and done.json()["worker_id"] == "agent-9"
    again = agent_api.post(f"/api/v1/runs/{run_id}/complete", {**lease, "output": {}}, format="json")
    assert again.status_code == 409 and again.json()["error_code"] == "CONFLICT"

    detail = runner_api.get(f"/api/v1/runs/{run_id}").json()
    assert detail["output"] == {"risk": "low"} and detail["attempt"] == 1 and detail["duration_ms"] == 0


def test_fail_over_http_with_retry(world, vendor_check, runner, agent_api):
    RunFactory(tenant=world.tenant, actor=runner)
    [run] = agent_api.post("/api/v1/runs/claim", {"worker_id": "a"}, format="json").json()["runs"]
    body = {"lease_token": run["lease_token"], "attempt": 1, "error": "busy", "error_type": "Busy", "retryable": True,
            "retry_after": 0}  # fmt: skip

    response = agent_api.post(f"/api/v1/runs/{run['id']}/fail", body, format="json")

    assert response.status_code == 200 and response.json()["status"] == "pending"
    assert response.json()["error_type"] == "Busy"


def test_cancel_over_http(world, vendor_check, runner_api):
    run_id = runner_api.post("/api/v1/work-units/Vendor_Check/run", {}, format="json").json()["id"]

    response = runner_api.post(f"/api/v1/runs/{run_id}/cancel", {"reason": "oops"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    again = runner_api.post(f"/api/v1/runs/{run_id}/cancel", {}, format="json")
    assert again.status_code == 200


def test_cancelling_a_finished_run_is_400_invalid_transition(world, vendor_check, runner, runner_api, agent):
    from runs import services
    from tests.runs.factories import lease_of

    RunFactory(tenant=world.tenant, actor=runner)
    [run] = claim(world.tenant, agent)
    services.run_complete(tenant=world.tenant, actor=agent, output={}, **lease_of(run))

    response = runner_api.post(f"/api/v1/runs/{run.pk}/cancel", {}, format="json")
    assert response.status_code == 400 and response.json()["error_code"] == "INVALID_TRANSITION"


def test_runs_recent_are_the_callers_newest_first_limited(world, vendor_check, runner, runner_api, agent, clock):
    ids = []
    for _ in range(12):
        ids.append(str(RunFactory(tenant=world.tenant, actor=runner).pk))
        clock.advance(seconds=1)
    RunFactory(tenant=world.tenant, actor=world.admin)  # someone else's

    default = runner_api.get("/api/v1/runs/recent").json()
    assert [r["id"] for r in default] == ids[::-1][:10]
    assert len(runner_api.get("/api/v1/runs/recent?limit=3").json()) == 3


def test_run_list_filters_and_keyset_pages(world, vendor_check, runner, runner_api, agent, clock):
    world.active(name="Invoice_Check")
    created = []
    for i in range(7):
        created.append(
            RunFactory(tenant=world.tenant, actor=runner, work_unit_id="Invoice_Check" if i % 2 else "Vendor_Check")
        )
        clock.advance(minutes=1)
    claim(world.tenant, agent, max_runs=2)  # the two oldest Vendor_Check runs start

    page1 = runner_api.get("/api/v1/runs?limit=3").json()
    page2 = runner_api.get(f"/api/v1/runs?limit=3&cursor={page1['next_cursor']}").json()
    page3 = runner_api.get(f"/api/v1/runs?limit=3&cursor={page2['next_cursor']}").json()
    seen = [r["id"] for r in page1["results"] + page2["results"] + page3["results"]]
    assert (
        seen == [str(r.pk) for r in reversed(created)] and page3["has_more"] is False and page3["next_cursor"] is None
    )

    assert {r["work_unit_id"] for r in runner_api.get("/api/v1/runs?work_unit=Invoice_Check").json()["results"]} == {
        "Invoice_Check"
    }
    assert len(runner_api.get("/api/v1/runs?status=running").json()["results"]) == 2
    assert len(runner_api.get("/api/v1/runs?status=pending,running").json()["results"]) == 7
    assert len(runner_api.get(f"/api/v1/runs?user={runner.pk}").json()["results"]) == 7
    assert len(runner_api.get("/api/v1/runs?user=acme-member").json()["results"]) == 7
    assert runner_api.get("/api/v1/runs?user=nobody").json()["results"] == []
    after = created[3].created_at.isoformat().replace("+00:00", "Z")
    assert len(runner_api.get("/api/v1/runs", {"created_after": after}).json()["results"]) == 4
    assert len(runner_api.get("/api/v1/runs", {"created_before": after}).json()["results"]) == 3
    assert runner_api.get("/api/v1/runs?status=nope").status_code == 400
    assert runner_api.get("/api/v1/runs?cursor=garbage").status_code == 400
    assert runner_api.get("/api/v1/runs?created_after=yesterday").status_code == 400


def test_work_unit_runs_by_name_or_uuid(world, vendor_check, runner, runner_api):
    for _ in range(3):
        RunFactory(tenant=world.tenant, actor=runner)

    by_name = runner_api.get("/api/v1/work-units/Vendor_Check/runs").json()
    by_uuid = runner_api.get(f"/api/v1/work-units/{vendor_check.pk}/runs?limit=2").json()

    assert len(by_name["results"]) == 3 and len(by_uuid["results"]) == 2 and by_uuid["has_more"] is True
    assert runner_api.get("/api/v1/work-units/Nope/runs").status_code == 404


def test_run_detail_of_an_unknown_or_malformed_id_is_404(world, runner_api):
    assert runner_api.get("/api/v1/runs/00000000-0000-0000-0000-000000000000").status_code == 404
    assert runner_api.get("/api/v1/runs/not-a-uuid").status_code == 404


def test_list_endpoints_cost_a_constant_number_of_queries(
    world, vendor_check, runner, runner_api, django_assert_max_num_queries
):
    for _ in range(3):
        RunFactory(tenant=world.tenant, actor=runner)
    with django_assert_max_num_queries(4) as few:
        runner_api.get("/api/v1/runs?limit=100")
    for _ in range(20):
        RunFactory(tenant=world.tenant, actor=runner)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(runner_api.get("/api/v1/runs?limit=100").json()["results"]) == 23
    with django_assert_max_num_queries(len(few.captured_queries)):
        runner_api.get("/api/v1/runs/recent?limit=100")
    with django_assert_max_num_queries(len(few.captured_queries) + 1):  # + resolving the work unit
        runner_api.get("/api/v1/work-units/Vendor_Check/runs?limit=100")


def test_an_idle_claim_without_wait_answers_an_empty_list(world, vendor_check, agent_api):
    response = agent_api.post("/api/v1/runs/claim", {"worker_id": "a", "max_runs": 100}, format="json")
    assert response.status_code == 200 and response.json() == {"runs": []}


@pytest.mark.parametrize("body", [{}, {"worker_id": "a", "max_runs": 101}, {"worker_id": "a", "wait_seconds": 31},
                                  {"worker_id": "a", "lease_seconds": 1}])  # fmt: skip
def test_bad_claims_are_validation_errors(world, agent_api, body):
    response = agent_api.post("/api/v1/runs/claim", body, format="json")
    assert response.status_code == 400 and response.json()["error_code"] == "VALIDATION_ERROR"


def test_status_values_are_the_seeds(world):
    assert RunStatus.values == ["pending", "running", "completed", "failed", "cancelled"]
