"""The seed's 49-activity test cycle end to end (Celery eager): every manual step completed by
a person, the three parallel phases fanned out over the default context's lists."""

import json

import pytest

from tests.workflow.engine.factories import acts, published
from workflow.engine import services
from workflow.engine.data import TEST_CYCLE
from workflow.engine.models import ActivityInstance, ActivityState, InstanceState

pytestmark = pytest.mark.django_db


def test_test_cycle_runs_end_to_end_with_manual_steps_and_parallel_phases(run, tenant, admin_user):
    template = published(tenant, admin_user, json.loads(TEST_CYCLE.read_text()))
    inst = run(
        services.instance_start,
        tenant=tenant,
        actor=admin_user,
        template_id=template.pk,
        context={"documents": ["a.pdf", "b.pdf"]},
    )
    completed_manual = 0
    for _ in range(100):
        waiting = list(
            ActivityInstance.objects.for_tenant(tenant)
            .filter(workflow=inst, state=ActivityState.WAITING)
            .order_by("id")
        )
        if not waiting:
            break
        for act in waiting:
            result = (
                {"data_owners": ["ops", "treasury", "crm", "hr"]} if act.instance_id == "identify_data_owners" else {}
            )
            run(
                services.activity_complete_manual,
                tenant=tenant,
                actor=admin_user,
                instance_id=inst.pk,
                activity_id=act.pk,
                result=result,
            )
            completed_manual += 1
    inst.refresh_from_db()
    rows = acts(inst)
    assert inst.state == InstanceState.COMPLETED, [
        (k, a.state, a.last_error) for k, a in rows.items() if a.state != "completed"
    ]
    # the manual step wrote the data owners (not given at start); the documents given at start won
    assert rows["send_data_request"].children_total == 4
    assert rows["execute_tests"].children_total == 2
    assert rows["create_observations"].children_total == 3
    assert len([k for k in rows if k.startswith("upload_data[")]) == 4
    top_level = [a for a in rows.values() if a.parent_activity_id is None]
    assert len(top_level) == 49
    # 20 manual templates: 14 single + fan-outs (2×4 RFI, 1×2 test review, 3×3 observations)
    assert completed_manual == 14 + 2 * 4 + 1 * 2 + 3 * 3
    report = inst.context["final_report"]["text"]
    assert "attributes in scope" in report and "checks run" in report
    assert inst.context["profile"]["row_count"] == 15
    assert len(inst.context["samples"]) == 6
