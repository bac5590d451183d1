"""Process death: a Celery worker SIGKILLed in the middle of an outbox batch, and the web server
SIGKILLed in the middle of a request that transitions a task. Afterwards every committed change
has exactly its event (and outbox row), every event reaches the handlers, the idempotent ones
take effect once, and nothing is half-written.

Real processes on the test's PostgreSQL database and Redis (``tests.procs``), stopped at
checkpoints placed by ``tests.reliability.hooks``: no timed sleeps decide what happens.
"""

from collections import Counter

import httpx
import pytest

from activity_feed.models import ActivityEvent, OutboxEvent, OutboxStatus
from tests.factories import token_for
from tests.procs import wait_until
from tests.workflow.factories import make_task, move
from workflow.models import StateTransition, Task
from workflow.services import trigger_create

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

HOOKS = "tests.reliability.hooks"
INTAKES = 4
FOLLOW_UP = {"action_type": "create_task", "parameters": {"title": "Follow-up: {title}", "task_type": "followup"}}


def _outbox(tenant):
    return OutboxEvent.objects.for_tenant(tenant)


def _assert_each_event_has_one_outbox_row(tenant):
    events = set(ActivityEvent.objects.for_tenant(tenant).values_list("pk", flat=True))
    rows = Counter(_outbox(tenant).values_list("event_id", flat=True))
    assert set(rows) == events and set(rows.values()) == {1}


def _assert_each_task_change_has_its_event(tenant):
    events = Counter(
        ActivityEvent.objects.for_tenant(tenant).filter(entity_type="task").values_list("entity_id", "type")
    )
    for task in Task.objects.for_tenant(tenant):
        assert events[(str(task.pk), "workflow.task.created")] == 1, task
        for record in StateTransition.objects.for_tenant(tenant).filter(entity_type="task", entity_id=task.pk):
            assert events[(str(task.pk), f"workflow.task.{record.to_state}")] == 1, record
    assert all(n == 1 for n in events.values()), events


def test_worker_killed_mid_outbox_batch_loses_no_event_and_doubles_no_effect(procs, tenant, member_user):
    # given: a trigger that creates one follow-up task per completed intake task, and completed
    # intake tasks whose events wait in the outbox
    trigger_create(tenant=tenant, name="follow-up", event_type="workflow.task.completed",
                   predicate="task_type == 'intake'", actions=[FOLLOW_UP])  # fmt: skip
    intakes = []
    for i in range(INTAKES):
        task = make_task(tenant, creator=member_user, assignee=member_user, task_type="intake", title=f"Client {i}")
        intakes.append(move(task, "in_progress", "completed", actor=member_user))
    committed = set(ActivityEvent.objects.for_tenant(tenant).values_list("pk", flat=True))
    block_at = len(committed) - 2  # inside the batch, after the trigger ran on some completions

    # when: a worker is killed inside one handler of its batch (the real handlers have run on
    # the earlier events and on this one; nothing of the batch is settled)
    first = procs.worker(
        hooks=[(f"{HOOKS}:record_deliveries", {"block_at": block_at})], env={"OCX_OUTBOX_LEASE_SECONDS": "1"}
    )
    procs.signals.wait("handler", proc=first)
    claimed = _outbox(tenant).filter(event_id__in=committed)
    assert claimed.filter(status=OutboxStatus.PROCESSING).count() == len(committed), "not mid-batch"
    assert Task.objects.for_tenant(tenant).filter(task_type="followup").exists(), "no effect before the kill"
    first.kill()

    # then: another worker (its beat sweeps every second) reclaims the dead worker's rows once
    # their lease ran out and settles everything, including what the trigger created since
    second = procs.worker(hooks=[f"{HOOKS}:record_deliveries"], beat=True, env={"OCX_OUTBOX_SWEEP_INTERVAL": "1"})
    followups = Task.objects.for_tenant(tenant).filter(task_type="followup")

    def settled() -> bool:
        return followups.count() >= INTAKES and not _outbox(tenant).exclude(status=OutboxStatus.DONE).exists()

    wait_until(settled, "the second worker to settle the outbox", proc=second, timeout=90)

    # exactly one effect per event of the idempotent trigger handler, despite redelivery
    sources = Counter(t.metadata["source_task_id"] for t in followups)
    assert sources == Counter({t.pk: 1 for t in intakes})
    # every event delivered; by the second worker exactly once each; the killed batch again
    deliveries = procs.signals.records("deliveries")
    by_first = [int(v) for pid, v in deliveries if pid == first.pid]
    by_second = Counter(int(v) for pid, v in deliveries if pid == second.pid)
    everything = set(ActivityEvent.objects.for_tenant(tenant).values_list("pk", flat=True))
    assert len(by_first) == block_at and set(by_first) <= committed
    assert set(by_second) == everything and set(by_second.values()) == {1}
    # nothing half-written: each task change has exactly its event, each event one outbox row
    _assert_each_task_change_has_its_event(tenant)
    _assert_each_event_has_one_outbox_row(tenant)


def _transition_through(web, token, task, target):
    with httpx.Client(base_url=web.base_url, timeout=30) as client:
        return client.post(
            f"/api/v1/workflow/tasks/{task.pk}/transition",
            json={"target_state": target},
            headers={"Authorization": f"Token {token}"},
        )


@pytest.mark.parametrize("when", ["before_event", "after_event", "after_commit"])
def test_web_server_killed_mid_transition_leaves_the_change_whole_or_absent(
    procs,
    tenant,
    member_user,
    api_client_for,
    when,
):
    # given: a new task, and a web server that stops inside the transition's service
    task = make_task(tenant, creator=member_user, assignee=member_user, title="Under way")
    token = token_for(member_user)
    history_before = task.history.count()
    web = procs.web(hooks=[(f"{HOOKS}:block_in_publish", {"event_prefix": "workflow.task.", "when": when})])
    outcome: dict = {}

    def request():
        try:
            outcome["response"] = _transition_through(web, token, task, "in_progress")
        except httpx.HTTPError as exc:
            outcome["error"] = exc

    import threading

    client = threading.Thread(target=request, daemon=True)
    client.start()

    # when: the server is killed at that point of the request
    procs.signals.wait("publish", proc=web)
    web.kill()
    client.join(timeout=30)

    # then: the client saw the connection die (never a success it cannot trust)
    assert "error" in outcome, outcome
    task.refresh_from_db()
    moved = ActivityEvent.objects.for_tenant(tenant).filter(type="workflow.task.in_progress", entity_id=str(task.pk))
    if when == "after_commit":
        # committed: the change, its history, its transition record and exactly one event
        assert task.state == "in_progress"
        assert moved.count() == 1 and task.history.count() > history_before
        retry = api_client_for(member_user).post(
            f"/api/v1/workflow/tasks/{task.pk}/transition", {"target_state": "in_progress"}, format="json"
        )
        assert retry.status_code == 400 and retry.json()["error_code"] == "INVALID_TRANSITION"
    else:
        # rolled back whole: no state change, no history row, no transition record, no event
        assert task.state == "new"
        assert not moved.exists() and task.history.count() == history_before
        assert not StateTransition.objects.for_tenant(tenant).filter(entity_type="task", entity_id=task.pk).exists()
        # and the client's retry simply works, once
        retry = api_client_for(member_user).post(
            f"/api/v1/workflow/tasks/{task.pk}/transition", {"target_state": "in_progress"}, format="json"
        )
        assert retry.status_code == 200, retry.content
        assert moved.count() == 1
    _assert_each_task_change_has_its_event(tenant)
    _assert_each_event_has_one_outbox_row(tenant)
