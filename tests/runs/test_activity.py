"""Team and personal activity (the seed's event-type mapping, delegations) and the summary
figures, read from bounded queries whatever the number of runs."""

import pytest

from runs import services
from tests.runs.factories import RunFactory, WorkspaceFactory, claim, lease_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def mixed(world, vendor_check, runner, agent, clock):
    """Five runs: completed, failed, running, pending, cancelled (oldest first)."""
    runs = []
    for _ in range(5):
        runs.append(RunFactory(tenant=world.tenant, actor=runner))
        clock.advance(minutes=1)
    done, failed, running = claim(world.tenant, agent, max_runs=3)
    services.run_complete(tenant=world.tenant, actor=agent, output={}, **lease_of(done))
    services.run_fail(tenant=world.tenant, actor=agent, error="boom", error_type="Boom", **lease_of(failed))
    services.run_cancel(tenant=world.tenant, actor=runner, run_id=runs[4].pk)
    return runs


def test_team_activity_maps_run_status_to_the_seeds_event_types(world, mixed, api_client_for):
    events = api_client_for(world.viewer).get("/api/v1/activity/team").json()

    assert [e["type"] for e in events] == ["run", "run", "run", "error", "completion"]  # newest first
    assert [e["details"]["status"] for e in events] == ["cancelled", "pending", "running", "failed", "completed"]
    first = events[-1]
    assert set(first) == {
        "id",
        "type",
        "user_id",
        "user_name",
        "work_unit_id",
        "work_unit_name",
        "timestamp",
        "details",
    }
    assert first["user_name"] == "acme-member" and first["work_unit_name"] == "Vendor_Check"
    assert events[1]["details"]["error"] is None and events[3]["details"]["error_type"] == "Boom"


def test_a_work_unit_delegated_to_a_workspace_is_a_delegation_event(world, mixed, vendor_check, api_client_for, clock):
    workspace = WorkspaceFactory(tenant=world.tenant, actor=world.admin, name="Procurement")
    clock.advance(minutes=1)
    services.work_unit_add(tenant=world.tenant, actor=world.admin, workspace_id=workspace.pk,
                           work_unit_id="Vendor_Check", delegation_id="del-1")  # fmt: skip

    [latest] = api_client_for(world.viewer).get("/api/v1/activity/team?limit=1").json()
    assert latest["type"] == "delegation" and latest["user_name"] == "acme-admin"
    assert latest["details"] == {"workspace_id": str(workspace.pk), "workspace_name": "Procurement",
                                 "work_unit_type": "atomic", "delegation_id": "del-1"}  # fmt: skip
    mine = api_client_for(world.admin).get("/api/v1/activity/my").json()
    assert [e["type"] for e in mine] == ["delegation"]


def test_my_activity_is_the_callers_only(world, mixed, vendor_check, api_client_for):
    RunFactory(tenant=world.tenant, actor=world.admin)

    mine = api_client_for(world.creator).get("/api/v1/activity/my?limit=50").json()
    assert len(mine) == 5 and {e["user_name"] for e in mine} == {"acme-member"}
    assert len(api_client_for(world.admin).get("/api/v1/activity/my").json()) == 1


def test_activity_limit_defaults_to_10_and_is_bounded(world, vendor_check, runner, api_client_for):
    for _ in range(12):
        RunFactory(tenant=world.tenant, actor=runner)
    api = api_client_for(runner)

    assert len(api.get("/api/v1/activity/team").json()) == 10
    assert len(api.get("/api/v1/activity/team?limit=1000").json()) == 12
    assert api.get("/api/v1/activity/team?limit=ten").status_code == 400


def test_summary_has_the_seeds_fields_and_figures(world, mixed, api_client_for):
    summary = api_client_for(world.viewer).get("/api/v1/activity/summary?hours=24").json()

    assert {k: summary[k] for k in ("period_hours", "total_runs", "completed", "failed", "pending", "running")} == {
        "period_hours": 24, "total_runs": 5, "completed": 1, "failed": 1, "pending": 1, "running": 1,
    }  # fmt: skip
    assert summary["cancelled"] == 1 and summary["success_rate"] == 0.2


def test_summary_counts_only_runs_created_in_the_window_by_whole_hours(
    world, vendor_check, runner, clock, api_client_for
):
    RunFactory(tenant=world.tenant, actor=runner)  # 09:00
    clock.advance(hours=30)
    RunFactory(tenant=world.tenant, actor=runner)  # the next day, 15:00
    api = api_client_for(runner)

    assert api.get("/api/v1/activity/summary").json()["total_runs"] == 1
    assert api.get("/api/v1/activity/summary?hours=48").json()["total_runs"] == 2
    assert api.get("/api/v1/activity/summary?hours=30").json()["total_runs"] == 2  # from 09:00 yesterday on


def test_summary_of_no_runs_has_a_zero_success_rate(world, api_client_for):
    summary = api_client_for(world.viewer).get("/api/v1/activity/summary").json()
    assert summary["total_runs"] == 0 and summary["success_rate"] == 0.0


@pytest.mark.parametrize("hours", ["0", "-1", "abc", "100000"])
def test_summary_refuses_a_bad_window(world, api_client_for, hours):
    assert api_client_for(world.viewer).get(f"/api/v1/activity/summary?hours={hours}").status_code == 400


def test_summary_and_team_cost_the_same_queries_at_any_number_of_runs(
    world, vendor_check, runner, agent, api_client_for, django_assert_max_num_queries, clock
):
    api = api_client_for(runner)
    RunFactory(tenant=world.tenant, actor=runner)
    # Counted at once: captured_queries slices connection.queries_log, which the next request clears.
    with django_assert_max_num_queries(3) as captured:
        api.get("/api/v1/activity/summary")
    summary_queries, summary_sql = len(captured.captured_queries), captured.captured_queries[-1]["sql"]
    with django_assert_max_num_queries(4) as captured:
        api.get("/api/v1/activity/team")
    team_queries = len(captured.captured_queries)
    for _ in range(30):
        RunFactory(tenant=world.tenant, actor=runner)
        clock.advance(minutes=7)
    claim(world.tenant, agent, max_runs=20)
    # The clock moved 3.5 hours: the token's next use records last_used_at once (one UPDATE a
    # minute at most, ocx.core.tokens); measure the steady state after it.
    api.get("/api/v1/ping")

    with django_assert_max_num_queries(summary_queries):
        assert api.get("/api/v1/activity/summary?hours=24").json()["total_runs"] == 31
    with django_assert_max_num_queries(team_queries):
        api.get("/api/v1/activity/team?limit=100")
    assert "runs_runcounter" in summary_sql and "runs_run" not in summary_sql.replace("runs_runcounter", "")
