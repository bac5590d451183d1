"""Races on PostgreSQL, through the API as clients send them: threads released together
(``tests.concurrency.race``), each with its own database connection.

- 50 clients sending one event (same idempotency key) at once → one row, one outbox row; one
  201 and 49 answers of 200 naming that row.
- 20 deploys of one activity to one slot at once → exactly one ACTIVE deployment, one event per
  deployment row, every loser a CONFLICT / INVALID_TRANSITION in the envelope.
- 8 transitions of one task at once → one wins, the others INVALID_TRANSITION or CONFLICT; the
  task's transition records, history rows and events agree with that one win.
"""

from collections import Counter

import pytest
from rest_framework.test import APIClient

from activity_feed.models import ActivityEvent, OutboxEvent
from ocx.core.access import Role
from registry.models import Deployment, DeploymentStatus
from tests.concurrency import race
from tests.factories import member, token_for
from tests.registry.factories import RegistryWorld
from tests.workflow.factories import make_task
from workflow.models import StateTransition

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
    return client


def _answers(responses) -> Counter:
    return Counter((r.status_code, (r.json() or {}).get("error_code")) for r in responses)


def test_fifty_concurrent_duplicate_events_store_one_row(tenant, member_user):
    # given: fifty clients holding the same event
    clients = [_client(member_user) for _ in range(50)]
    body = {"type": "test.duplicate.sent", "title": "once", "idempotency_key": "race-50", "event_metadata": {"n": 1}}

    # when
    responses = race(50, lambda i: clients[i].post("/api/v1/events", body, format="json"), timeout=120)

    # then
    assert not [r for r in responses if isinstance(r, Exception)], responses
    assert sorted(r.status_code for r in responses) == [200] * 49 + [201]
    events = ActivityEvent.objects.for_tenant(tenant).filter(idempotency_key="race-50")
    assert events.count() == 1
    assert {r.json()["id"] for r in responses} == {events.get().pk}
    assert OutboxEvent.objects.for_tenant(tenant).filter(event=events.get()).count() == 1


@pytest.fixture
def registry_world(tenant, settings):
    settings.OCX_REGISTRY_REQUIRED_APPROVALS = ["TECHNICAL"]
    return RegistryWorld(
        tenant=tenant,
        creator=member(tenant, Role.MEMBER, username="acme-creator"),
        admin=member(tenant, Role.ADMIN, username="acme-deployer"),
        approvers={"TECHNICAL": member(tenant, Role.APPROVER_TECHNICAL, username="acme-technical")},
        viewer=None,
        other_tenant=None,
        other_admin=None,
    )


def test_twenty_concurrent_deploys_to_one_slot_leave_exactly_one_active(tenant, registry_world):
    # given: one approved activity, twenty deployers
    activity = registry_world.approved(name="Race_Deploy")
    clients = [_client(registry_world.admin) for _ in range(20)]
    url = f"/api/v1/activities/{activity.pk}/deploy"

    # when
    responses = race(20, lambda i: clients[i].post(url, {"environment": "PROD"}, format="json"), timeout=120)

    # then: one ACTIVE; every answer a success or a refusal in the envelope, never a 500
    assert not [r for r in responses if isinstance(r, Exception)], responses
    answers = _answers(responses)
    assert set(answers) <= {(201, None), (200, None), (409, "CONFLICT"), (400, "INVALID_TRANSITION")}, answers
    slot = Deployment.objects.for_tenant(tenant).filter(activity_name="Race_Deploy", environment="PROD")
    assert slot.filter(status=DeploymentStatus.ACTIVE).count() == 1
    # each deployment row has its one event, and no event lacks its row
    deployed = ActivityEvent.objects.for_tenant(tenant).filter(type__startswith="registry.deployment.")
    created = Counter(deployed.filter(type="registry.deployment.created").values_list("source_object_id", flat=True))
    assert created == Counter({str(d.deployment_id): 1 for d in slot}), (created, list(slot))
    assert answers[(201, None)] + answers[(200, None)] >= 1


@pytest.mark.parametrize(
    ("start", "targets"),
    [
        ([], ["in_progress"] * 8),  # the same move eight times at once
        (["in_progress"], ["completed", "cancelled"] * 4),  # rival terminal moves: only one can happen
    ],
    ids=["same-move", "rival-moves"],
)
def test_concurrent_transitions_of_one_task_one_wins_history_consistent(tenant, member_user, start, targets):
    # given: a task, eight clients moving it at once
    task = make_task(tenant, creator=member_user, assignee=member_user)
    for state in start:
        _client(member_user).post(
            f"/api/v1/workflow/tasks/{task.pk}/transition", {"target_state": state}, format="json"
        )
    history_before = task.history.count()
    clients = [_client(member_user) for _ in targets]
    url = f"/api/v1/workflow/tasks/{task.pk}/transition"

    # when
    responses = race(len(targets), lambda i: clients[i].post(url, {"target_state": targets[i]}, format="json"))

    # then: one 200, the others refused in the envelope
    assert not [r for r in responses if isinstance(r, Exception)], responses
    answers = _answers(responses)
    assert answers[(200, None)] == 1, answers
    assert set(answers) - {(200, None)} <= {(400, "INVALID_TRANSITION"), (409, "CONFLICT")}, answers
    winner = next(targets[i] for i, r in enumerate(responses) if r.status_code == 200)
    task.refresh_from_db()
    assert task.state == winner
    # the records, the history and the events tell the same single story
    records = StateTransition.objects.for_tenant(tenant).filter(entity_type="task", entity_id=task.pk).order_by("pk")
    path = ["new", *start, winner]
    assert [(r.from_state, r.to_state) for r in records] == list(zip(path, path[1:], strict=False))
    assert task.history.count() == history_before + 1
    moved = ActivityEvent.objects.for_tenant(tenant).filter(entity_type="task", entity_id=str(task.pk))
    assert sorted(moved.values_list("type", flat=True)) == sorted(f"workflow.task.{s}" for s in ["created", *path[1:]])
