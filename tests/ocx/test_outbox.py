"""The outbox dispatcher: exclusive claims, retries with backoff, dead rows, lease reclaim."""

import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from activity_feed import publish as events
from activity_feed.models import OutboxEvent, OutboxStatus
from activity_feed.outbox import outbox_claim, outbox_dispatch
from activity_feed.publish import publish


@pytest.fixture
def recorded():
    seen = []

    def handler(event):
        seen.append(event.pk)

    events._handlers.append(handler)
    yield seen
    events._handlers.remove(handler)


@pytest.fixture
def failing():
    calls = []

    def handler(event):
        calls.append(event.pk)
        raise RuntimeError("downstream is down")

    events._handlers.append(handler)
    yield calls
    events._handlers.remove(handler)


@pytest.mark.django_db
def test_dispatch_runs_handlers_and_marks_rows_done(tenant, recorded):
    first = publish(tenant=tenant, type="x.y.one")
    second = publish(tenant=tenant, type="x.y.two")

    result = outbox_dispatch()

    assert recorded == [first.pk, second.pk]
    assert result.done == 2
    assert set(OutboxEvent.objects.for_tenant(tenant).values_list("status", flat=True)) == {OutboxStatus.DONE}


@pytest.mark.django_db
def test_done_rows_are_not_dispatched_again(tenant, recorded):
    publish(tenant=tenant, type="x.y.one")
    outbox_dispatch()

    outbox_dispatch()

    assert len(recorded) == 1


@pytest.mark.django_db
@override_settings(OUTBOX_BACKOFF_SECONDS=10, OUTBOX_MAX_ATTEMPTS=3)
def test_failed_row_is_retried_later_with_backoff(tenant, failing):
    publish(tenant=tenant, type="x.y.one")

    result = outbox_dispatch()

    row = OutboxEvent.objects.for_tenant(tenant).get()
    assert result.retried == 1
    assert row.status == OutboxStatus.PENDING
    assert row.attempts == 1
    assert "downstream is down" in row.last_error
    assert row.available_at > timezone.now() + timedelta(seconds=8)
    # not due yet: a second run does not touch it
    outbox_dispatch()
    assert len(failing) == 1


@pytest.mark.django_db
@override_settings(OUTBOX_BACKOFF_SECONDS=0, OUTBOX_MAX_ATTEMPTS=3)
def test_row_is_marked_dead_after_max_attempts(tenant, failing):
    publish(tenant=tenant, type="x.y.one")

    for _ in range(5):
        outbox_dispatch()

    row = OutboxEvent.objects.for_tenant(tenant).get()
    assert row.status == OutboxStatus.DEAD
    assert row.attempts == 3
    assert len(failing) == 3


@pytest.mark.django_db
def test_rows_of_a_dead_worker_are_reclaimed_after_the_lease(tenant, recorded):
    event = publish(tenant=tenant, type="x.y.one")
    # given a worker that claimed the row and died
    assert outbox_claim(claimer="dead-worker") == [OutboxEvent.objects.for_tenant(tenant).get().pk]
    assert outbox_claim(claimer="other") == []

    # when its lease has run out
    OutboxEvent.objects.for_tenant(tenant).update(locked_until=timezone.now() - timedelta(seconds=1))
    outbox_dispatch()

    # then another worker processes it
    assert recorded == [event.pk]
    assert OutboxEvent.objects.for_tenant(tenant).get().status == OutboxStatus.DONE


@pytest.mark.django_db
def test_dispatch_task_runs_on_commit(tenant, recorded, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        event = publish(tenant=tenant, type="x.y.one")

    assert recorded == [event.pk]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_concurrent_workers_process_each_event_exactly_once(tenant):
    assert connection.vendor == "postgresql"
    seen = []
    lock = threading.Lock()

    def handler(event):
        with lock:
            seen.append(event.pk)

    # given 200 committed events that nobody has dispatched yet
    with mock.patch("activity_feed.publish.after_commit"):
        created = [publish(tenant=tenant, type="x.y.bulk").pk for _ in range(200)]
    events._handlers.append(handler)
    barrier = threading.Barrier(2)

    def worker():
        try:
            barrier.wait()
            outbox_dispatch(batch_size=7)
        finally:
            connection.close()

    try:
        threads = [threading.Thread(target=worker) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        events._handlers.remove(handler)

    assert sorted(seen) == sorted(created)
    assert OutboxEvent.objects.for_tenant(tenant).exclude(status=OutboxStatus.DONE).count() == 0


def test_wake_enqueues_one_dispatcher_until_it_clears_the_flag():
    from activity_feed.outbox import outbox_wake, outbox_woken

    with mock.patch("activity_feed.tasks.dispatch_outbox.delay") as delay:
        first, second = outbox_wake(), outbox_wake()
        outbox_woken()  # the dispatcher is past its last claim: later commits need a new one
        third = outbox_wake()

    assert (first, second, third) == (True, False, True)
    assert delay.call_count == 2


def test_commits_in_a_row_enqueue_a_single_dispatcher(tenant, django_capture_on_commit_callbacks):
    with mock.patch("activity_feed.tasks.dispatch_outbox.delay") as delay:
        with django_capture_on_commit_callbacks(execute=True):
            for i in range(5):
                publish(tenant=tenant, type="test.thing.happened", entity_id=i)

    assert delay.call_count == 1


def test_purge_deletes_only_rows_done_before_the_retention(tenant):
    from activity_feed.outbox import outbox_purge_done

    old, recent, pending = (publish(tenant=tenant, type="test.thing.happened", entity_id=i) for i in range(3))
    now = timezone.now()
    OutboxEvent.objects.all_tenants().filter(event=old).update(
        status=OutboxStatus.DONE, processed_at=now - timedelta(hours=25)
    )
    OutboxEvent.objects.all_tenants().filter(event=recent).update(
        status=OutboxStatus.DONE, processed_at=now - timedelta(hours=1)
    )

    deleted = outbox_purge_done(older_than=timedelta(hours=24))

    assert deleted == 1
    left = set(OutboxEvent.objects.all_tenants().values_list("event_id", flat=True))
    assert left == {recent.pk, pending.pk}


@pytest.mark.django_db
def test_lingering_dispatcher_takes_commits_that_follow_without_a_new_wake(tenant, recorded):
    from django.core.cache import cache

    from activity_feed.outbox import WAKE_KEY, outbox_run, outbox_wake

    first = publish(tenant=tenant, type="x.y.first")
    later, wakes_while_lingering = [], []
    real_sleep = __import__("time").sleep

    def poll_pause(seconds):
        # a commit arrives while the dispatcher lingers: it finds the flag set, enqueues nothing
        if not later:
            later.append(publish(tenant=tenant, type="x.y.later"))
            with mock.patch("activity_feed.tasks.dispatch_outbox.delay") as delay:
                wakes_while_lingering.append(outbox_wake() or delay.called)
        real_sleep(seconds)

    cache.set(WAKE_KEY, 1)  # set by the commit that woke this dispatcher
    with mock.patch("activity_feed.outbox.time.sleep", poll_pause):
        result = outbox_run(linger=0.2)

    assert recorded == [first.pk, later[0].pk]
    assert result.done == 2
    assert wakes_while_lingering == [False]
    assert cache.get(WAKE_KEY) is None  # cleared before its last claim: the next commit wakes one


@pytest.mark.django_db
def test_dispatcher_clears_the_wake_flag_even_when_a_claim_fails(tenant):
    from django.core.cache import cache

    from activity_feed.outbox import WAKE_KEY, outbox_run

    cache.set(WAKE_KEY, 1)
    with mock.patch("activity_feed.outbox.outbox_dispatch", side_effect=RuntimeError("database went away")):
        with pytest.raises(RuntimeError):
            outbox_run(linger=0.2)

    assert cache.get(WAKE_KEY) is None
