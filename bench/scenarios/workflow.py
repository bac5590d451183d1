"""Workflow (issue 4): with 1,000,000 tasks (100,000 open) in PostgreSQL,

* one SLA breach scan must finish in under 2 s, as a set-based query on an index;
* the transition endpoint's p95 must stay under 30 ms, including the outbox write.

Data: tasks are streamed in with COPY, their SLA records derived in one INSERT … SELECT. Open
tasks' deadlines are spread over the coming hours, and ``BREACH_BATCH`` of them are re-armed
past due before each timed scan, so every run has the same fresh breaches to mark (and their
events and alerts to write). The transition load uses its own small loader (below, run as a
separate process), because every request must move a *different* task ``new → in_progress``.

Run: ``.venv/bin/python bench/run.py --only workflow [--quick]``. The generator alone can be
tried on any PostgreSQL database: ``DATABASE_URL=… python bench/scenarios/workflow.py --generate-only``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAME = "workflow"
TASKS, OPEN = 1_000_000, 100_000
QUICK_TASKS, QUICK_OPEN = 50_000, 5_000
BREACH_BATCH = 1_000
LOAD_TASKS = 6_000
TASK_COLUMNS = (
    "tenant_id", "title", "description", "state", "created_by_id", "assigned_to_id", "task_type", "service_area",
    "priority", "metadata", "created_at", "updated_at", "started_at", "completed_at",
)  # fmt: skip
TYPES = [("intake", 60), ("assessment", 240), ("review", 120), ("general", 480)]


def _bench_count(tenant_id: int) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM workflow_task WHERE tenant_id = %s AND metadata ? 'bench'", [tenant_id])
        return cursor.fetchone()[0]


def generate(total: int, open_count: int) -> dict:
    """Top the acme-corp tenant up to ``total`` bench tasks (``open_count`` open) and SLA records."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from ocx.core.models import Tenant

    tenant = Tenant.objects.get(slug="acme-corp")
    user = get_user_model().objects.get(username="acme-member")
    have = _bench_count(tenant.pk)
    started = time.perf_counter()
    if have < total:
        now = timezone.now()
        rng = random.Random(have)
        sql = f"COPY workflow_task ({', '.join(TASK_COLUMNS)}) FROM STDIN"
        with transaction.atomic(), connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for i in range(have, total):
                task_type = TYPES[i % 4][0]
                is_open = i % (total // open_count) == 0
                state = (
                    ("new", "in_progress", "blocked")[i % 3]
                    if is_open
                    else ("completed", "completed", "cancelled")[i % 3]
                )
                created = (
                    now - timedelta(minutes=rng.randint(1, 60 * 24 * 90))
                    if not is_open
                    else now - timedelta(minutes=rng.randint(0, 30))
                )
                copy.write_row((
                    tenant.pk, f"Bench task {i}", "", state, user.pk, user.pk, task_type, task_type,
                    ("low", "medium", "high", "critical")[i % 4], '{"bench": true}', created, created,
                    created if state != "new" else None, created + timedelta(minutes=30) if not is_open else None,
                ))  # fmt: skip
    with transaction.atomic(), connection.cursor() as cursor:
        # One SLA record per new task: open ones running (paused if blocked) with deadlines in
        # the future, closed ones met / breached / cancelled.
        cursor.execute(
            """
            INSERT INTO workflow_slarecord (tenant_id, task_id, target_minutes, status, started_at, due_at,
                at_risk_at, paused_seconds, completed_at, actual_minutes, breached_at, created_at, paused_at)
            SELECT t.tenant_id, t.id, c.target_minutes,
                CASE WHEN t.state = 'blocked' THEN 'paused' WHEN t.state IN ('new', 'in_progress') THEN 'running'
                     WHEN t.state = 'cancelled' THEN 'cancelled' WHEN mod(t.id, 10) = 0 THEN 'breached' ELSE 'met' END,
                t.created_at,
                t.created_at + make_interval(mins => c.target_minutes + 600 + mod(t.id, 600)::int),
                t.created_at + make_interval(mins => c.target_minutes + 500 + mod(t.id, 600)::int),
                0, t.completed_at, CASE WHEN t.completed_at IS NULL THEN NULL ELSE 30 END,
                CASE WHEN t.state = 'completed' AND mod(t.id, 10) = 0 THEN t.created_at END,
                now(), CASE WHEN t.state = 'blocked' THEN now() END
            FROM workflow_task t
            JOIN workflow_slaconfig c ON c.tenant_id IS NULL AND c.task_type = t.task_type AND c.service_area = t.task_type
            LEFT JOIN workflow_slarecord r ON r.task_id = t.id
            WHERE t.tenant_id = %s AND r.id IS NULL
            """,
            [tenant.pk],
        )
    from bench.harness import vacuum_analyze

    vacuum_analyze("workflow_task", "workflow_slarecord")
    return {"tasks": _bench_count(tenant.pk), "generated_in_s": round(time.perf_counter() - started, 1)}


def _rearm(count: int) -> int:
    """Put ``count`` running bench clocks past due (they become this run's fresh breaches).
    First settle, silently, the clocks that came due or at risk since the data were generated
    (a running beat would have announced them as they came): hours after generation there are
    thousands, and the timed scan would otherwise measure that backlog, not the 1,000."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE workflow_slarecord SET at_risk_notified_at = now() "
            "WHERE status = 'running' AND at_risk_notified_at IS NULL AND at_risk_at < now()"
        )
        cursor.execute(
            "UPDATE workflow_slarecord SET status = 'breached', breached_at = due_at "
            "WHERE status = 'running' AND due_at < now()"
        )
        cursor.execute(
            """
            UPDATE workflow_slarecord SET status = 'running', breached_at = NULL, at_risk_notified_at = now(),
                due_at = now() - interval '1 minute'
            WHERE id IN (
                SELECT r.id FROM workflow_slarecord r JOIN workflow_task t ON t.id = r.task_id
                WHERE t.state IN ('new', 'in_progress') AND t.metadata ? 'bench'
                ORDER BY r.id LIMIT %s)
            """,
            [count],
        )
        return cursor.rowcount


def _explain_claim() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "EXPLAIN SELECT id FROM workflow_slarecord WHERE status = 'running' AND due_at < now() "
            "ORDER BY due_at LIMIT 1000 FOR UPDATE SKIP LOCKED"
        )
        return "\n".join(row[0] for row in cursor.fetchall())


def time_scan() -> dict:
    from workflow.services.sla import sla_scan

    armed = _rearm(BREACH_BATCH)
    plan = _explain_claim()
    started = time.perf_counter()
    result = sla_scan(batch_size=BREACH_BATCH)
    elapsed = time.perf_counter() - started
    second_started = time.perf_counter()
    again = sla_scan(batch_size=BREACH_BATCH)  # idempotent: nothing left to mark
    return {
        "armed": armed,
        "breached": result.breached,
        "at_risk": result.at_risk,
        "scan_s": round(elapsed, 3),
        "rescan_breached": again.breached,
        "rescan_s": round(time.perf_counter() - second_started, 3),
        "uses_index": "idx_sla_running_due" in plan,
        "plan": plan,
    }


def _wait_for_outbox(timeout: float = 120) -> None:
    from activity_feed.models import OutboxEvent

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not OutboxEvent.objects.all_tenants().filter(status__in=["pending", "processing"]).exists():
            return
        time.sleep(0.5)


def _load_tasks(n: int) -> list[int]:
    """``n`` fresh tasks in ``new`` (through the service, so each has its SLA record)."""
    from django.contrib.auth import get_user_model

    from ocx.core.models import Tenant
    from workflow import services

    tenant = Tenant.objects.get(slug="acme-corp")
    user = get_user_model().objects.get(username="acme-member")
    return [
        services.task_create(tenant=tenant, actor=user, title=f"Load {i}", task_type="review", assigned_to=user).pk
        for i in range(n)
    ]


async def _transition_load(base_url: str, token: str, ids: list[int], concurrency: int, warmup: int) -> dict:
    import httpx

    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    body = json.dumps({"target_state": "in_progress", "notes": "bench"}).encode()
    queue = list(ids)
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    done = 0
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=concurrency)) as client:

        async def worker():
            nonlocal done
            while queue:
                task_id = queue.pop()
                started = time.perf_counter()
                response = await client.post(
                    f"{base_url}/api/v1/workflow/tasks/{task_id}/transition", content=body, headers=headers
                )
                elapsed = (time.perf_counter() - started) * 1000
                done += 1
                if done > warmup:
                    statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                    if response.status_code == 200:
                        latencies.append(elapsed)

        wall = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - wall
    latencies.sort()

    def pct(q):
        return round(latencies[min(len(latencies) - 1, int(round(q * (len(latencies) - 1))))], 2) if latencies else 0.0

    return {
        "count": len(latencies),
        "errors": sum(v for k, v in statuses.items() if k != 200),
        "statuses": {str(k): v for k, v in statuses.items()},
        "concurrency": concurrency,
        "throughput_rps": round(len(ids) / wall, 1) if wall else 0.0,
        "p50_ms": pct(0.5),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "mean_ms": round(statistics.fmean(latencies), 2) if latencies else 0.0,
    }


def run(ctx) -> dict:
    from bench.harness import LATENCY_CONCURRENCY, print_stats

    total, open_count = (QUICK_TASKS, QUICK_OPEN) if ctx.quick else (TASKS, OPEN)
    data = generate(total, open_count)
    print(f"  {data['tasks']} bench tasks ({open_count} open), generated in {data['generated_in_s']} s")
    scan = time_scan()
    print(f"  SLA scan: {scan['breached']} breaches marked in {scan['scan_s']} s (index: {scan['uses_index']}); "
          f"re-scan {scan['rescan_breached']} in {scan['rescan_s']} s")  # fmt: skip

    ids = _load_tasks(600 if ctx.quick else LOAD_TASKS)
    _wait_for_outbox()  # the scan's events and the load tasks' own events: let the worker drain them first
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(ids, handle)
    out = subprocess.run(
        [sys.executable, __file__, "--transition-load", "--base-url", ctx.base_url, "--token", ctx.token("acme-admin"),
         "--ids", handle.name, "--concurrency", str(LATENCY_CONCURRENCY)],
        cwd=ROOT, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    transition = json.loads(out)
    print_stats("POST /workflow/tasks/{id}/transition", transition)
    listing = ctx.load("/api/v1/workflow/tasks?state=in_progress&limit=50")
    print_stats("GET /workflow/tasks?state=in_progress", listing)
    return {
        "data": data,
        "sla_scan": scan,
        "targets": {"sla_scan_s": 2.0, "transition_p95_ms": 30.0},
        "met": {"sla_scan": scan["scan_s"] < 2.0 and scan["uses_index"], "transition_p95": transition["p95_ms"] < 30.0},
        "transition": transition,
        "list_in_progress": listing,
    }


def _main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--transition-load", action="store_true")
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--base-url")
    parser.add_argument("--token")
    parser.add_argument("--ids")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    if args.transition_load:
        ids = json.loads(Path(args.ids).read_text())
        result = asyncio.run(
            _transition_load(args.base_url, args.token, ids, args.concurrency, warmup=min(200, len(ids) // 10))
        )
        json.dump(result, sys.stdout)
        return 0
    if args.generate_only:
        import os

        sys.path.insert(0, str(ROOT))
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocx.settings")
        import django

        django.setup()
        total, open_count = (QUICK_TASKS, QUICK_OPEN) if args.quick else (TASKS, OPEN)
        print(generate(total, open_count))
        print({k: v for k, v in time_scan().items() if k != "plan"})
        return 0
    parser.error("use --transition-load or --generate-only")
    return 2


if __name__ == "__main__":
    raise SystemExit(_main())
