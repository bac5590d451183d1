"""Long-polling claims: an answer as soon as a run is claimable, a wake-up instead of polling the
database, one claim statement per re-check while idle."""

import threading
import time

import pytest

from runs import services, wakeup
from runs.services import claims
from tests.runs.factories import RunFactory

pytestmark = pytest.mark.django_db


class FakeTime:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class FakeListener:
    """Waits without sleeping: each wait moves the fake monotonic clock by its timeout, or runs
    ``on_wait`` (a commit elsewhere) and reports a wake-up."""

    def __init__(self, clock, on_wait=None):
        self.clock, self.on_wait, self.waits = clock, on_wait, []

    def wait(self, timeout):
        self.waits.append(timeout)
        if self.on_wait is not None:
            self.on_wait()
            self.on_wait = None
            self.clock.now += 0.01
            return True
        self.clock.now += timeout
        return False

    def close(self):
        pass


@pytest.fixture
def fake_wait(monkeypatch):
    clock = FakeTime()
    monkeypatch.setattr(claims, "monotonic", clock)
    state = {"listener": FakeListener(clock)}

    class Listen:
        def __init__(self, tenant_id, topics):
            state["opened"] = (tenant_id, topics)

        def __enter__(self):
            return state["listener"]

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(claims.wakeup, "listen", Listen)
    state["clock"] = clock
    return state


def _claim_statements(queries):
    return [q for q in queries if q["sql"].lstrip().upper().startswith(("UPDATE", "WITH")) and "runs_run" in q["sql"]]


def test_a_claimable_run_is_returned_at_once_without_waiting(world, vendor_check, runner, agent, fake_wait):
    RunFactory(tenant=world.tenant, actor=runner)

    runs = services.runs_claim_wait(tenant=world.tenant, actor=agent, worker_id="a", wait_seconds=30)

    assert len(runs) == 1 and fake_wait["listener"].waits == []


def test_an_idle_long_poll_claims_once_per_recheck_interval_and_returns_empty(
    world, vendor_check, agent, fake_wait, settings, django_assert_max_num_queries
):
    settings.OCX_RUNS_CLAIM_RECHECK_SECONDS = 10
    with django_assert_max_num_queries(20) as queries:
        runs = services.runs_claim_wait(tenant=world.tenant, actor=agent, worker_id="a", wait_seconds=30, topics=["X"])

    assert runs == [] and fake_wait["listener"].waits == [10, 10, 10]
    assert len(_claim_statements(queries.captured_queries)) == 4  # at start, and after each re-check
    assert fake_wait["opened"] == (world.tenant.pk, ["X"])


def test_a_wake_up_makes_the_waiting_claim_take_the_new_run(world, vendor_check, runner, agent, fake_wait):
    created = []
    fake_wait["listener"].on_wait = lambda: created.append(RunFactory(tenant=world.tenant, actor=runner))

    runs = services.runs_claim_wait(tenant=world.tenant, actor=agent, worker_id="a", wait_seconds=30)

    assert [r.pk for r in runs] == [created[0].pk] and len(fake_wait["listener"].waits) == 1


def test_no_wait_means_a_single_claim(world, vendor_check, agent, fake_wait):
    assert services.runs_claim_wait(tenant=world.tenant, actor=agent, worker_id="a", wait_seconds=0) == []
    assert "opened" not in fake_wait


def test_creating_an_agent_run_notifies_its_tenant_on_commit(
    world, vendor_check, runner, monkeypatch, django_capture_on_commit_callbacks
):
    notified = []
    monkeypatch.setattr(wakeup, "notify", lambda tenant_id, names: notified.append((tenant_id, names)))

    with django_capture_on_commit_callbacks(execute=True):
        RunFactory(tenant=world.tenant, actor=runner)
        assert notified == []  # not before the commit

    assert notified == [(world.tenant.pk, ["Vendor_Check"])]


def test_the_embedded_wake_up_releases_a_waiting_listener(settings):
    settings.REDIS_URL = ""
    woke = []
    with wakeup.listen(4242, []) as listener:
        waiter = threading.Thread(target=lambda: woke.append(listener.wait(10)))
        started = time.monotonic()
        waiter.start()
        wakeup.notify(4242, ["PO_Approval"])
        waiter.join(5)
    assert woke == [True] and time.monotonic() - started < 5


def test_a_notification_before_the_wait_is_not_lost(settings):
    settings.REDIS_URL = ""
    with wakeup.listen(4343, []) as listener:
        wakeup.notify(4343, ["PO_Approval"])  # between the listener's claim and its wait
        assert listener.wait(5) is True


def test_another_tenants_notification_does_not_wake_a_listener(settings):
    settings.REDIS_URL = ""
    with wakeup.listen(4444, []) as listener:
        wakeup.notify(4545, ["PO_Approval"])
        assert listener.wait(0.01) is False


@pytest.mark.redis
def test_the_redis_wake_up_filters_by_topic_and_releases_a_listener(settings):
    import os

    settings.REDIS_URL = os.environ["REDIS_URL"]
    wakeup._redis.cache_clear()
    with wakeup.listen(4646, ["PO_Approval"]) as listener:
        wakeup.notify(4646, ["Other"])
        assert listener.wait(0.3) is False
        wakeup.notify(4646, ["PO_Approval"])
        assert listener.wait(5) is True
