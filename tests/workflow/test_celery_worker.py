"""End to end through a real Celery worker (with its beat) on Redis and PostgreSQL.

The test process commits (transactional test) and publishes to Redis; a ``celery -A ocx worker
-B`` subprocess on the same test database does the rest: the outbox dispatcher runs the
built-in trigger, and beat runs the SLA scan every second.
"""

import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection

from activity_feed.models import ActivityEvent
from tests.conftest import process_env
from tests.workflow.factories import make_task, move
from workflow.models import SLARecord, Task

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def start_worker(tmp_path):
    """Start ``celery -A ocx worker`` on the test database; stopped at teardown."""
    from ocx.celery import app

    # This process must publish to the broker instead of running tasks in-process.
    was_eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    app.control.purge()
    started = []

    def start(*, pool="solo", beat=True, db_pool=False):
        env = process_env(
            OCX_CELERY_EAGER="0",
            OCX_DB_POOL="1" if db_pool else "0",
            SLA_MONITOR_INTERVAL="1",
            OCX_OUTBOX_SWEEP_INTERVAL="1",
            OCX_LOG_LEVEL="WARNING",
        )
        log = open(tmp_path / f"worker-{len(started)}.log", "w")
        cmd = [str(Path(sys.executable).parent / "celery"), "-A", "ocx", "worker", "--pool", pool, "--concurrency", "1",
               "--loglevel", "WARNING"]  # fmt: skip
        if beat:
            cmd += ["-B", "-s", str(tmp_path / "beat-schedule")]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        started.append((proc, log))
        return proc

    yield start
    for proc, log in started:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
    app.conf.task_always_eager = was_eager


@pytest.fixture
def worker(start_worker):
    return start_worker()


def _wait_for(predicate, timeout=45):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


def test_completing_intake_task_creates_assessment_task_through_worker(worker, tenant, member_user):
    task = make_task(tenant, creator=member_user, assignee=member_user, task_type="intake", title="Walk-in client")

    move(task, "in_progress", "completed", actor=member_user)

    assert _wait_for(lambda: Task.objects.for_tenant(tenant).filter(task_type="assessment").exists()), (
        "the worker did not create the follow-up task"
    )
    follow_up = Task.objects.for_tenant(tenant).get(task_type="assessment")
    assert follow_up.priority == "high" and follow_up.metadata["source_task_id"] == task.pk


def _overdue_task(tenant, creator) -> SLARecord:
    task = make_task(tenant, creator=creator, task_type="intake")
    record = SLARecord.objects.for_tenant(tenant).get(task=task)
    SLARecord.objects.for_tenant(tenant).filter(pk=record.pk).update(
        due_at=record.due_at - timedelta(hours=2), at_risk_at=record.at_risk_at - timedelta(hours=2)
    )
    return record


def _breached(tenant, record) -> bool:
    return SLARecord.objects.for_tenant(tenant).filter(pk=record.pk, status="breached").exists()


def test_beat_marks_overdue_task_breached_exactly_once(worker, tenant, member_user):
    record = _overdue_task(tenant, member_user)

    assert _wait_for(lambda: _breached(tenant, record))
    # Proof that beat scanned again since, rather than a fixed sleep: two later overdue tasks,
    # each breached by a later scan, while the first one must not be announced twice.
    for _ in range(2):
        later = _overdue_task(tenant, member_user)
        assert _wait_for(lambda later=later: _breached(tenant, later))
    breaches = ActivityEvent.objects.for_tenant(tenant).filter(type="workflow.task.sla_breached")
    assert breaches.filter(entity_id=str(record.task_id)).count() == 1


def _sessions_opened() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def _publish_committed(tenant, n: int) -> None:
    from django.db import transaction

    from activity_feed import publish as events

    with transaction.atomic():
        events.publish(tenant=tenant, type="test.worker.pinged", title=f"ping {n}", entity_type="ping", entity_id=n)


def test_prefork_worker_reuses_its_pooled_database_connections_across_tasks(start_worker, tenant):
    # Celery's Django fixup would close the whole psycopg pool around every task under prefork
    # (three new PostgreSQL sessions per outbox event); the worker must keep its connections.
    from activity_feed.models import OutboxEvent, OutboxStatus

    start_worker(pool="prefork", beat=False, db_pool=True)
    outbox = OutboxEvent.objects.for_tenant(tenant)
    _publish_committed(tenant, 0)
    assert _wait_for(lambda: outbox.filter(status=OutboxStatus.DONE).count() == 1), "the worker did not start"
    before = _sessions_opened()

    for n in range(1, 16):
        _publish_committed(tenant, n)
        assert _wait_for(lambda n=n: outbox.filter(status=OutboxStatus.DONE).count() == n + 1)

    assert _sessions_opened() - before <= 2
