"""Row locks follow one order — activities (in primary-key order) before their deployments and
approvals — so the beat job's activation and an emergency suspension never deadlock, whichever
goes first; and a path that asks for a parent after one of its children is refused before it
can deadlock."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from ocx.core.errors import InvalidTransition
from ocx.core.locks import LockOrderError, lock_one
from ocx.core.services import service
from registry import services
from registry.models import Activity, Approval, Deployment, DeploymentStatus
from registry.models import ActivityStatus as S
from tests.registry.test_deployments import _next_version

ROUNDS = 30
LIVE = [DeploymentStatus.ACTIVE, DeploymentStatus.PENDING]


def _together(*calls, delays=()) -> list[BaseException]:
    """Run the calls at the same instant (the n-th ``delays[n]`` seconds later), each in its own
    thread (and database connection); what they raised."""
    barrier = threading.Barrier(len(calls))
    raised: list[BaseException] = []

    def run(call, delay):
        try:
            barrier.wait()
            time.sleep(delay)
            call()
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            raised.append(exc)
        finally:
            connection.close()

    delays = [*delays, *[0] * (len(calls) - len(delays))]
    threads = [threading.Thread(target=run, args=(call, delay)) for call, delay in zip(calls, delays, strict=True)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return raised


def _race(world, *, round_: int, suspended: Activity, due_at, refusable: bool = False) -> bool:
    """The beat job activating what is due at ``due_at`` while an operator suspends
    ``suspended``: neither may deadlock (or fail in any other way). The suspension starts 0, 4,
    8 … 16 ms after the beat job, so that each takes the lead in some rounds. ``refusable``: the
    suspension may be refused as having nothing to suspend (the activation went first and took
    the version's deployment away); returns whether it was."""
    raised = _together(
        lambda: services.deployments_activate_due(now=due_at),
        lambda: services.activity_suspend(
            tenant=world.tenant, actor=world.admin, activity_id=suspended.pk, reason="incident"
        ),
        delays=[0, (round_ % 5) * 0.004],
    )
    deadlocks = [exc for exc in raised if isinstance(exc, OperationalError) and "deadlock" in str(exc).lower()]
    assert not deadlocks, f"round {round_}: {deadlocks}"
    refused = [
        exc for exc in raised if refusable and isinstance(exc, InvalidTransition) and "nothing to suspend" in str(exc)
    ]
    assert [exc for exc in raised if exc not in refused] == [], f"round {round_}: {raised}"
    return bool(refused)


def _reload(world, activity) -> Activity:
    return Activity.objects.for_tenant(world.tenant).get(pk=activity.pk)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_activation_and_suspension_of_the_same_activity_never_deadlock(world):
    for round_ in range(ROUNDS):
        # given: an activity live in PROD, with a new PROD deployment of it coming due
        activity = world.active(name=f"Same_{round_}")
        later = timezone.now() + timedelta(hours=1)
        world.deploy(activity, "PROD", effective_from=later)

        # when: the beat job activates it while an operator suspends the activity
        _race(world, round_=round_, suspended=activity, due_at=later + timedelta(seconds=1))

        # then: whoever went first, the suspension ended everything
        assert _reload(world, activity).status == S.SUSPENDED, round_
        assert not Deployment.objects.for_tenant(world.tenant).filter(activity=activity, status__in=LIVE).exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_activation_superseding_another_version_and_its_suspension_never_deadlock(world):
    """The path that touches two activities: v2's deployment coming due supersedes v1's (v1
    goes back to DEPLOYED) while an operator suspends v1. Before the lock order, the beat job
    locked v1's deployment and then v1, the suspension v1 and then its deployment: about half
    of the rounds deadlocked."""
    for round_ in range(ROUNDS):
        # given: v1 live in PROD, v2 deployed to PROD effective later
        v1 = world.active(name=f"Versions_{round_}")
        v2 = _next_version(world, v1)
        later = timezone.now() + timedelta(hours=1)
        pending = world.deploy(v2, "PROD", effective_from=later)

        # when: the beat job activates v2 while an operator suspends v1
        refused = _race(world, round_=round_, suspended=v1, due_at=later + timedelta(seconds=1), refusable=True)
        # (a run that found v1 locked left v2's deployment for the next run)
        services.deployments_activate_due(now=later + timedelta(seconds=2))

        # then: v1 has nothing live — suspended, or (when v2's activation went first and left v1
        # nothing to suspend) superseded back to DEPLOYED — and v2 is live in PROD
        assert _reload(world, v1).status == (S.DEPLOYED if refused else S.SUSPENDED), round_
        assert not Deployment.objects.for_tenant(world.tenant).filter(activity=v1, status__in=LIVE).exists()
        pending.refresh_from_db()
        assert pending.status == DeploymentStatus.ACTIVE, round_
        assert _reload(world, v2).status == S.ACTIVE, round_


@service
def _approval_then_its_activity(*, actor, approval_id):
    approval = lock_one(Approval.objects.all_tenants().filter(pk=approval_id))
    return lock_one(Activity.objects.all_tenants().filter(pk=approval.activity_id))


def test_locking_an_approval_then_its_activity_is_refused(world):
    activity = world.create()
    _, approvals = world.request_all(activity)

    with pytest.raises(LockOrderError, match="Activity .* locked after Approval"):
        _approval_then_its_activity(actor=world.admin, approval_id=approvals[0].pk)


def test_the_activity_is_locked_before_its_deployments_and_approvals():
    assert Activity.lock_order < Deployment.lock_order
    assert Activity.lock_order < Approval.lock_order
