"""On PostgreSQL: 8 agents claiming at once get every run exactly once; two sweeps at once
settle each expired lease once; a long-polling claim is woken by a commit in another session."""

import threading
import time
from collections import Counter

import pytest
from django.db import connection

from runs import services
from runs.models import Run, RunStatus
from tests.concurrency import race
from tests.runs.factories import RunFactory, claim

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_eight_concurrent_agents_get_every_run_exactly_once(world, vendor_check, runner, agent):
    created = {RunFactory(tenant=world.tenant, actor=runner).pk for _ in range(240)}

    def drain(i):
        mine = []
        while batch := claim(world.tenant, agent, worker_id=f"agent-{i}", max_runs=7):
            mine += [r.pk for r in batch]
        return mine

    results = race(8, drain, timeout=120)

    assert not [r for r in results if isinstance(r, Exception)], results
    handed_out = Counter(pk for mine in results for pk in mine)
    assert set(handed_out) == created and set(handed_out.values()) == {1}
    assert sum(1 for mine in results if mine) > 1  # the agents really shared the work
    runs = Run.objects.for_tenant(world.tenant)
    assert runs.filter(status=RunStatus.RUNNING, attempt=1).count() == 240
    assert len(set(runs.values_list("lease_token", flat=True))) == 240


def test_two_sweeps_at_once_settle_each_expired_lease_once(world, vendor_check, runner, agent, clock):
    for _ in range(30):
        RunFactory(tenant=world.tenant, actor=runner)
    claim(world.tenant, agent, max_runs=30, lease_seconds=10)
    clock.advance(seconds=11)

    results = race(2, lambda i: services.runs_settle(batch_size=5).reoffered, timeout=120)

    assert sum(results) == 30, results
    for run in Run.objects.for_tenant(world.tenant):
        assert run.history.filter(status="pending").count() == 2  # created, re-offered once


def test_a_long_poll_returns_as_soon_as_another_session_commits_a_run(
    world, vendor_check, runner, agent, monkeypatch, settings
):
    from runs import wakeup

    settings.OCX_RUNS_CLAIM_RECHECK_SECONDS = 30  # only the wake-up can answer within the test's bound

    waiting = threading.Event()
    for listener_class in (wakeup.RedisListener, wakeup.LocalListener):
        original = listener_class.wait

        def wait_and_tell(self, timeout, _original=original):
            waiting.set()  # the claim found nothing and now waits for a wake-up
            return _original(self, timeout)

        monkeypatch.setattr(listener_class, "wait", wait_and_tell)
    got = {}

    def poll():
        started = time.monotonic()
        got["runs"] = services.runs_claim_wait(tenant=world.tenant, actor=agent, worker_id="w", wait_seconds=20)
        got["seconds"] = time.monotonic() - started
        connection.close()

    waiter = threading.Thread(target=poll)
    waiter.start()
    assert waiting.wait(10)
    run = RunFactory(tenant=world.tenant, actor=runner)  # committed: wakes the waiter
    waiter.join(30)

    assert [r.pk for r in got["runs"]] == [run.pk] and got["seconds"] < 10
