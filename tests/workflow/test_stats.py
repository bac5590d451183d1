"""/stats and /metrics figures."""

import pytest

from tests.workflow.factories import make_task, task_in
from workflow.models import SLARecord
from workflow.services.sla import sla_scan

pytestmark = pytest.mark.django_db


def test_stats_counts(admin_api, tenant, member_user, other_tenant):
    for state in ["new", "new", "in_progress", "blocked", "completed", "cancelled"]:
        task_in(tenant, state, creator=member_user)
    make_task(other_tenant)  # another tenant's task is not counted
    late = make_task(tenant, creator=member_user, task_type="intake")
    SLARecord.objects.for_tenant(tenant).filter(task=late).update(
        due_at=late.sla.started_at, at_risk_at=late.sla.started_at
    )
    sla_scan()

    body = admin_api.get("/api/v1/workflow/stats").json()

    assert body["tasks"]["by_state"] == {"new": 3, "in_progress": 1, "blocked": 1, "completed": 1, "cancelled": 1}
    assert body["tasks"]["open"] == 5
    assert body["sla"]["met"] == 1 and body["sla"]["breached"] == 1 and body["sla"]["paused"] == 1
    assert body["events"]["outbox_backlog"] > 0  # on-commit dispatch does not run in this test
    assert "failures" in body["automation"] and "outbox_failed" in body["events"]


def test_metrics_expose_workflow_gauges(client, tenant, member_user):
    task_in(tenant, "blocked", creator=member_user)
    text = client.get("/metrics").content.decode()
    assert 'active_tasks_total{state="blocked"} 1.0' in text
    assert 'workflow_sla_records{status="paused"} 1.0' in text
    assert "workflow_transition_total" in text
