"""``seed_demo``'s runs content and the PO_Approval handler it registers."""

import pytest
from django.core.management import call_command

from registry import selectors as registry_selectors
from runs import selectors
from runs.demo import approval_rules
from runs.models import Run, Workspace

pytestmark = pytest.mark.django_db


def test_seed_demo_makes_a_week_of_runs_workspaces_and_a_long_running_agent_run_idempotently():
    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", verbosity=0)

    from ocx.core.models import Tenant

    acme = Tenant.objects.get(slug="acme-corp")
    runs = Run.objects.for_tenant(acme)
    assert runs.count() >= 40
    assert set(runs.values_list("work_unit_id", flat=True)) == {"PO_Approval", "Vendor_Screening", "Expense_Audit"}
    assert len(set(runs.values_list("user_name", flat=True))) >= 3
    assert runs.filter(status="failed").exists() and runs.filter(status="cancelled").exists()
    long_run = runs.get(status="running")
    assert long_run.worker_id == "agent-long-1" and long_run.heartbeat_details["progress"] == 0.4
    assert runs.filter(status="pending", execution="agent").count() == 2
    assert runs.filter(execution="in_process", status="completed").count() == 1
    assert sorted(Workspace.objects.for_tenant(acme).values_list("name", flat=True)) == ["Finance Ops", "Procurement"]
    week = selectors.activity_summary(tenant=acme, hours=24 * 8)
    assert week["total_runs"] == runs.count() and week["completed"] == runs.filter(status="completed").count()
    assert {e["type"] for e in selectors.activity_team(tenant=acme, limit=100)} >= {"completion", "run", "delegation"}
    po = registry_selectors.activity_for_work_unit(tenant=acme, work_unit="PO_Approval")
    assert registry_selectors.execution_stats(activity=po)["total_executions"] > 40  # the registry's 40 + the runs


def test_the_approval_rules_are_read_from_the_deployed_source():
    source = 'WHEN purchase_order.amount > 50000\n    REQUIRE approval FROM "CFO"\n  WHEN purchase_order.amount > 10000\n    REQUIRE approval FROM "Finance Manager"'
    assert approval_rules(source) == [(50000, "CFO"), (10000, "Finance Manager")]
    assert approval_rules("") == [(100000, "CFO"), (10000, "Finance Manager")]
