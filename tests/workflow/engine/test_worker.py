"""The engine on a real Celery worker (a subprocess, ``tests.procs``) on Redis and PostgreSQL:
the seed's 49-activity test cycle end to end with its manual steps completed through the API and
its parallel phases fanned out, and a worker SIGKILLed in the middle of an activity.

The test process commits (transactional test) and queues the attempts on Redis; the worker runs
them. Nothing waits on a timed sleep: the test polls the database for what it expects, and the
sweep that repairs a killed worker's activity runs here on the engine's clock moved forward.
"""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.procs import procs, wait_until  # noqa: F401 - the fixture
from tests.workflow.engine import hooks
from tests.workflow.engine.factories import activity, acts, definition, phase, published
from workflow.engine import handlers, services
from workflow.engine.data import TEST_CYCLE
from workflow.engine.models import ActivityAttempt, ActivityInstance, ActivityState, InstanceState, WorkflowInstance

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

HOOKS = "tests.workflow.engine.hooks"


def _state(inst) -> str:
    return WorkflowInstance.objects.for_tenant(inst.tenant_id).values_list("state", flat=True).get(pk=inst.pk)


def _waiting(inst) -> list[ActivityInstance]:
    return list(
        ActivityInstance.objects.for_tenant(inst.tenant_id)
        .filter(workflow=inst, state=ActivityState.WAITING)
        .order_by("id")
    )


def test_test_cycle_runs_end_to_end_on_a_worker_with_manual_steps_through_the_api(procs, tenant, admin_user, admin_api):  # noqa: F811
    worker = procs.worker()
    template = published(tenant, admin_user, json.loads(TEST_CYCLE.read_text()))
    started = admin_api.post(
        "/api/v1/workflow/instances",
        {"template_name": template.name, "context": {"documents": ["a.pdf", "b.pdf", "c.pdf"]}},
        format="json",
    )
    assert started.status_code == 201, started.content
    inst = WorkflowInstance.objects.for_tenant(tenant).get(pk=started.json()["id"])

    completed_through_api = 0
    while True:
        wait_until(lambda: _state(inst) != InstanceState.RUNNING or _waiting(inst), "a manual step", proc=worker)
        if _state(inst) != InstanceState.RUNNING:
            break
        for act in _waiting(inst):
            result = {"data_owners": ["ops", "treasury", "crm"]} if act.instance_id == "identify_data_owners" else {}
            answer = admin_api.post(
                f"/api/v1/workflow/instances/{inst.pk}/activities/{act.pk}/complete", {"result": result}, format="json"
            )
            assert answer.status_code == 200, answer.content
            completed_through_api += 1

    inst.refresh_from_db()
    rows = acts(inst)
    assert inst.state == InstanceState.COMPLETED, [(k, a.state, a.last_error) for k, a in rows.items()]
    assert rows["send_data_request"].children_total == 3  # written by the manual step
    assert rows["execute_tests"].children_total == 3  # given at start (it wins)
    assert len([k for k in rows if k.startswith("execute_tests[")]) == 3
    assert completed_through_api == 14 + 2 * 3 + 1 * 3 + 3 * 3
    automated = [a for a in rows.values() if not a.activity_template.manual and not a.children_total]
    # every automated activity ran on the worker exactly once
    assert {a.retry_count for a in automated if a.state == ActivityState.COMPLETED} == {1}
    assert "checks run" in inst.context["final_report"]["text"]


@pytest.fixture
def counted_handler():
    # The template is validated here, the handler runs in the worker (registered there by a hook).
    handlers.register(handlers.Handler(hooks.COUNTED, hooks.counted))
    yield
    handlers._registry.pop(hooks.COUNTED, None)


def test_worker_killed_mid_activity_is_redispatched_by_the_sweep_not_lost_or_doubled(
    procs,  # noqa: F811
    tenant,
    admin_user,
    counted_handler,
    monkeypatch,
):
    policy = {"initial_interval": 1, "backoff_coefficient": 2, "maximum_interval": 5, "maximum_attempts": 3}
    data = definition(
        phase(
            "p",
            1,
            activity("a", handler=hooks.COUNTED, timeout_seconds=30, retry_policy=policy),
            activity("b", handler=hooks.COUNTED),
        )
    )
    template = published(tenant, admin_user, data)
    first = procs.worker(hooks=[(f"{HOOKS}:register_counted_handler", {"block_attempt": 1})])
    inst = services.instance_start(tenant=tenant, actor=admin_user, template_id=template.pk)

    # given: the worker is inside attempt 1 of "a" — and dies there
    procs.signals.wait("in_handler", proc=first)
    first.kill()
    a = acts(inst)["a"]
    assert (a.state, a.retry_count) == (ActivityState.RUNNING, 1)

    # when: a new worker is up and the beat sweep runs once the attempt deadline has passed
    second = procs.worker(hooks=[f"{HOOKS}:register_counted_handler"])
    later = timezone.now() + timedelta(seconds=31)
    monkeypatch.setattr("workflow.engine.services.runtime.now", lambda: later)
    swept = services.sweep()

    # then: the attempt timed out, attempt 2 ran on the new worker, and "b" after it — once each
    assert swept["timed_out"] == 1
    wait_until(lambda: _state(inst) == InstanceState.COMPLETED, "the instance to complete", proc=second)
    executions = procs.signals.records("executions")
    assert [value for _pid, value in executions] == ["a:None:1", "a:None:2", "b:None:1"]
    assert [pid for pid, _value in executions] == [first.pid, second.pid, second.pid]
    outcomes = ActivityAttempt.objects.for_tenant(tenant).filter(activity=a).order_by("number")
    assert list(outcomes.values_list("outcome", flat=True)) == ["timed_out", "completed"]
    left = services.sweep()
    assert (left["redispatched"], left["timed_out"]) == (0, 0)  # nothing left to repair
