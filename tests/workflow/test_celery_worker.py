"""End to end through a real Celery worker (with its beat) on Redis and PostgreSQL.

The test process commits (transactional test) and publishes to Redis; a ``celery -A ocx worker
-B`` subprocess on the same test database does the rest: the outbox dispatcher runs the
built-in trigger, and beat runs the SLA scan every second.
"""

import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection

from activity_feed.models import ActivityEvent
from tests.workflow.factories import make_task, move
from workflow.models import SLARecord, Task

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def worker(tmp_path):
    from ocx.celery import app

    # This process must publish to the broker instead of running tasks in-process.
    was_eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    app.control.purge()
    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="ocx.settings",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        REDIS_URL=os.environ["REDIS_URL"],
        OCX_CELERY_EAGER="0",
        OCX_DB_POOL="0",
        SLA_MONITOR_INTERVAL="1",
        OCX_OUTBOX_SWEEP_INTERVAL="1",
        OCX_LOG_LEVEL="WARNING",
    )
    env.pop("CI", None)
    log = open(tmp_path / "worker.log", "w")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "celery"), "-A", "ocx", "worker", "-B", "--pool", "solo",
         "-s", str(tmp_path / "beat-schedule"), "--loglevel", "WARNING"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    yield proc
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()
    app.conf.task_always_eager = was_eager


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
