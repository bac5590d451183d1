"""Soak test (issue 11, "Performance of the suite itself"): ``--minutes`` (default 10) of mixed
load against the distributed mode — the harness' web server (uvicorn, several workers) and
Celery worker, plus a ``celery beat`` started here — and three criteria:

* **0 errors**: every request of the mix answers 2xx (or, for a claim, 200 with or without a run);
* **resident memory flat**: the RSS (``/proc/<pid>/status`` VmRSS) of the web processes and of
  the worker processes, each summed over the process tree, sampled every ``SAMPLE_SECONDS``,
  stays within ``RSS_TOLERANCE`` (10 %) of its lowest post-warm-up sample (warm-up: the first
  ``WARMUP_FRACTION`` of the run, at least 30 s);
* **no growth in PostgreSQL connections**: ``pg_stat_activity`` rows of the bench database in
  the second half after warm-up never exceed the peak of the first half (+ ``CONN_SLACK``).

The mix (weights per request, paced to ``RATE`` operations/s over ``CLIENTS`` clients, run in
its own process): reads (ping, event page, activity list, task list, activity summary, recent
runs), a registry write (create an activity), event ingestion (one signed Standard Webhooks
event), a task's life (create → in progress → completed) and a run's life (create as an agent
run → claim → complete). The scenario's result has ``ok``: false when a criterion fails, and
``bench/run.py`` then exits non-zero.

Run: ``make bench BENCH_ARGS="--only soak --minutes 10"``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAME = "soak"
DEFAULT_MINUTES = 10
SAMPLE_SECONDS = 10
WARMUP_FRACTION = 0.2
MIN_WARMUP_S = 30
RSS_TOLERANCE = 0.10
CONN_SLACK = 1
RATE, CLIENTS = 12.0, 4
INGEST_KEY = "bench-soak"
INGEST_SECRET = "whsec_YmVuY2gtc29hay1zZWNyZXQtZm9yLXRoZS1zb2Fr"
MIX = [  # (operation, weight)
    ("read_ping", 2),
    ("read_events", 2),
    ("read_activities", 1),
    ("read_tasks", 1),
    ("read_summary", 1),
    ("read_runs", 1),
    ("registry_create", 1),
    ("ingest_event", 2),
    ("task_flow", 1),
    ("run_flow", 1),
]


# --- pure helpers (tests/bench) -------------------------------------------------------------
def parse_rss_kb(status_text: str) -> int:
    """VmRSS (kB) from the text of ``/proc/<pid>/status`` (0 for a zombie without one)."""
    for line in status_text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def parse_ppid(stat_text: str) -> int:
    """The parent pid from ``/proc/<pid>/stat`` (the command may contain spaces and parens)."""
    return int(stat_text.rsplit(")", 1)[1].split()[1])


def descendants(pid: int, parents: dict[int, int]) -> list[int]:
    """``pid`` and every process below it, given ``{pid: ppid}``."""
    children: dict[int, list[int]] = {}
    for child, parent in parents.items():
        children.setdefault(parent, []).append(child)
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children.get(current, []))
    return sorted(out)


def warmup_seconds(duration_s: float) -> float:
    return max(MIN_WARMUP_S, WARMUP_FRACTION * duration_s) if duration_s > MIN_WARMUP_S * 2 else duration_s / 3


def rss_verdict(samples: list[tuple[float, int]], warmup_s: float, tolerance: float = RSS_TOLERANCE) -> dict:
    """``samples``: (seconds since start, total kB). Flat: every post-warm-up sample within
    ``tolerance`` of the lowest one."""
    after = [kb for t, kb in samples if t >= warmup_s]
    if len(after) < 2:
        return {"ok": False, "reason": "fewer than 2 samples after warm-up", "samples": len(after)}
    low, high = min(after), max(after)
    spread = (high - low) / low if low else 0.0
    return {
        "ok": spread <= tolerance,
        "min_kb": low,
        "max_kb": high,
        "first_kb": after[0],
        "last_kb": after[-1],
        "spread": round(spread, 4),
        "growth_first_to_last": round((after[-1] - after[0]) / after[0], 4) if after[0] else 0.0,
        "samples": len(after),
    }


def connections_verdict(samples: list[tuple[float, int]], warmup_s: float, slack: int = CONN_SLACK) -> dict:
    """Not growing: the second half after warm-up never exceeds the first half's peak (+ slack)."""
    after = [n for t, n in samples if t >= warmup_s]
    if len(after) < 2:
        return {"ok": False, "reason": "fewer than 2 samples after warm-up", "samples": len(after)}
    half = len(after) // 2
    first, second = after[:half] or after[:1], after[half:]
    return {
        "ok": max(second) <= max(first) + slack,
        "first_half_max": max(first),
        "second_half_max": max(second),
        "min": min(after),
        "max": max(after),
        "samples": len(after),
    }


# --- process and database sampling ----------------------------------------------------------
def _parents() -> dict[int, int]:
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                out[int(entry)] = parse_ppid(Path(f"/proc/{entry}/stat").read_text())
            except (OSError, ValueError, IndexError):
                continue
    return out


def tree_rss(pid: int) -> tuple[int, dict[int, int]]:
    per = {}
    for p in descendants(pid, _parents()):
        try:
            per[p] = parse_rss_kb(Path(f"/proc/{p}/status").read_text())
        except OSError:
            continue
    return sum(per.values()), per


def pg_connections(dsn: str) -> int:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()").fetchone()[0]


# --- the mixed load (its own process) -------------------------------------------------------
def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))], 2)


async def _load(args) -> dict:
    import httpx

    from activity_feed.ingest.signatures import standard_webhook_sign

    admin = {"Authorization": f"Token {args.admin_token}", "Content-Type": "application/json"}
    member = {"Authorization": f"Token {args.member_token}", "Content-Type": "application/json"}
    base = args.base_url + "/api/v1"
    stats: dict[str, dict] = {}
    run_tag = uuid.uuid4().hex[:8]
    counter = iter(range(10**9))

    def record(op: str, status: int, ms: float, detail: str = "") -> bool:
        s = stats.setdefault(op, {"count": 0, "errors": 0, "statuses": {}, "ms": [], "samples": []})
        s["count"] += 1
        s["statuses"][str(status)] = s["statuses"].get(str(status), 0) + 1
        s["ms"].append(ms)
        ok = 200 <= status < 300
        if not ok:
            s["errors"] += 1
            if len(s["samples"]) < 5:
                s["samples"].append(f"{status} {detail[:300]}")
        return ok

    async def call(client, op, method, path, *, headers, body=None, raw: bytes | None = None):
        started = time.perf_counter()
        try:
            content = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
            response = await client.request(method, base + path, content=content, headers=headers)
            status, text = response.status_code, response.text
        except httpx.HTTPError as exc:
            status, text = 0, f"{type(exc).__name__}: {exc}"
            response = None
        ok = record(op, status, (time.perf_counter() - started) * 1000, text)
        return response if ok else None

    async def read(client, op, path):
        await call(client, op, "GET", path, headers=admin)

    async def registry_create(client):
        n = next(counter)
        body = {"name": f"Soak_{run_tag}_{n}", "version": "1.0.0", "ebcl_source": "ACTIVITY x", "owner": "Soak",
                "category": "Soak"}  # fmt: skip
        await call(client, "registry_create", "POST", "/activities", headers=member, body=body)

    async def ingest_event(client):
        n = next(counter)
        body = json.dumps(
            {"type": "order.created", "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
             "data": {"title": f"Soak order {n}", "entity_type": "order", "entity_id": f"soak-{run_tag}-{n}"}}
        ).encode()  # fmt: skip
        msg_id, stamp = f"soak-{run_tag}-{n}", int(time.time())
        headers = {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": standard_webhook_sign(secret=INGEST_SECRET, msg_id=msg_id, timestamp=stamp, body=body),
        }
        await call(client, "ingest_event", "POST", f"/ingest/webhook/{INGEST_KEY}", headers=headers, raw=body)

    async def task_flow(client):
        created = await call(client, "task_create", "POST", "/workflow/tasks", headers=admin,
                             body={"title": f"Soak task {next(counter)}", "task_type": "general"})  # fmt: skip
        if created is None:
            return
        task_id = created.json().get("id") or created.json().get("task", {}).get("id")
        for target in ("in_progress", "completed"):
            moved = await call(client, "task_transition", "POST", f"/workflow/tasks/{task_id}/transition",
                               headers=admin, body={"target_state": target, "notes": "soak"})  # fmt: skip
            if moved is None:
                return

    async def run_flow(client):
        body = {"execution": "agent", "input": {"purchase_order": {"id": f"PO-S{next(counter)}", "amount": 5000}}}
        created = await call(client, "run_create", "POST", "/work-units/PO_Approval/run", headers=admin, body=body)
        if created is None:
            return
        claim = {"worker_id": f"soak-agent-{run_tag}", "work_unit": "PO_Approval", "max_runs": 1, "lease_seconds": 60}
        claimed = await call(client, "run_claim", "POST", "/runs/claim", headers=admin, body=claim)
        if claimed is None:
            return
        for run in claimed.json().get("runs", []):  # another client may have taken this one: finish ours
            done = {"lease_token": run["lease_token"], "attempt": run["attempt"], "output": {"decision": "approved"}}
            await call(client, "run_complete", "POST", f"/runs/{run['id']}/complete", headers=admin, body=done)

    operations = {
        "read_ping": lambda c: read(c, "read_ping", "/ping"),
        "read_events": lambda c: read(c, "read_events", "/events?page_size=20"),
        "read_activities": lambda c: read(c, "read_activities", "/activities?page_size=30"),
        "read_tasks": lambda c: read(c, "read_tasks", "/workflow/tasks?page_size=20"),
        "read_summary": lambda c: read(c, "read_summary", "/activity/summary?hours=24"),
        "read_runs": lambda c: read(c, "read_runs", "/runs/recent"),
        "registry_create": registry_create,
        "ingest_event": ingest_event,
        "task_flow": task_flow,
        "run_flow": run_flow,
    }
    names = [name for name, _ in MIX]
    weights = [w for _, w in MIX]
    interval = args.clients / args.rate
    started = time.perf_counter()
    until = started + args.duration

    async def client_loop(n: int, client):
        rng = random.Random(n)
        next_at = time.perf_counter() + rng.uniform(0, interval)
        while True:
            now = time.perf_counter()
            if now >= until:
                return
            if next_at > now:
                await asyncio.sleep(next_at - now)
            next_at += interval
            await operations[rng.choices(names, weights)[0]](client)

    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=args.clients)) as client:
        await asyncio.gather(*(client_loop(n, client) for n in range(args.clients)))
    wall = time.perf_counter() - started
    out = {}
    for op, s in sorted(stats.items()):
        out[op] = {
            "count": s["count"], "errors": s["errors"], "statuses": s["statuses"], "p50_ms": _pct(s["ms"], 0.5),
            "p95_ms": _pct(s["ms"], 0.95), "mean_ms": round(statistics.fmean(s["ms"]), 2) if s["ms"] else 0.0,
            "error_samples": s["samples"],
        }  # fmt: skip
    requests = sum(s["count"] for s in stats.values())
    return {
        "duration_s": round(wall, 1),
        "requests": requests,
        "errors": sum(s["errors"] for s in stats.values()),
        "requests_per_s": round(requests / wall, 1) if wall else 0.0,
        "by_operation": out,
    }


# --- the scenario ---------------------------------------------------------------------------
def _setup_ingestion() -> None:
    from activity_feed.models import IngestionSource
    from ocx.core.models import Tenant

    tenant = Tenant.objects.get(slug="acme-corp")
    IngestionSource.objects.all_tenants().update_or_create(
        key=INGEST_KEY,
        defaults={"tenant": tenant, "kind": "webhook", "name": "soak", "secret": INGEST_SECRET, "is_active": True},
    )


def _start_beat(env: dict, workdir: str) -> subprocess.Popen:
    celery = str(Path(sys.executable).parent / "celery")
    return subprocess.Popen(
        [celery, "-A", "ocx", "beat", "--loglevel", "WARNING", "-s", os.path.join(workdir, "celerybeat-schedule"),
         "--pidfile", os.path.join(workdir, "beat.pid")],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def run(ctx) -> dict:
    minutes = ctx.minutes if ctx.minutes is not None else (2 if ctx.quick else DEFAULT_MINUTES)
    duration = minutes * 60
    warmup = warmup_seconds(duration)
    _setup_ingestion()
    web_pid, worker_pid = ctx.server.procs[0].pid, ctx.server.procs[1].pid
    dsn = ctx.env["DATABASE_URL"]
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="ocx-soak-") as workdir:
        beat = _start_beat(ctx.env, workdir)
        try:
            cmd = [sys.executable, __file__, "--load", "--base-url", ctx.base_url,
                   "--admin-token", ctx.token("acme-admin"), "--member-token", ctx.token("acme-member"),
                   "--duration", str(duration), "--rate", str(RATE), "--clients", str(CLIENTS)]  # fmt: skip
            load = subprocess.Popen(cmd, cwd=ROOT, env=ctx.env, stdout=subprocess.PIPE, text=True)
            started = time.monotonic()
            samples = []
            while load.poll() is None:
                t = round(time.monotonic() - started, 1)
                web_kb, web_per = tree_rss(web_pid)
                worker_kb, worker_per = tree_rss(worker_pid)
                beat_kb, _ = tree_rss(beat.pid)
                samples.append(
                    {"t": t, "web_kb": web_kb, "worker_kb": worker_kb, "beat_kb": beat_kb,
                     "pg_connections": pg_connections(dsn), "web_per_pid": web_per, "worker_per_pid": worker_per,
                     "load1": round(os.getloadavg()[0], 2)}
                )  # fmt: skip
                last = samples[-1]
                print(f"  t={t:>6.0f}s  web {last['web_kb'] / 1024:6.1f} MB  worker {last['worker_kb'] / 1024:6.1f} MB  "
                      f"beat {last['beat_kb'] / 1024:5.1f} MB  pg connections {last['pg_connections']}  "
                      f"load {last['load1']}", flush=True)  # fmt: skip
                deadline = time.monotonic() + SAMPLE_SECONDS
                while load.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.5)
            out, _ = load.communicate()
            beat_alive = beat.poll() is None
        finally:
            beat.terminate()
            try:
                beat.wait(timeout=15)
            except subprocess.TimeoutExpired:
                beat.kill()
    traffic = json.loads(out) if out else {"errors": None, "requests": 0}
    web = rss_verdict([(s["t"], s["web_kb"]) for s in samples], warmup)
    worker = rss_verdict([(s["t"], s["worker_kb"]) for s in samples], warmup)
    conns = connections_verdict([(s["t"], s["pg_connections"]) for s in samples], warmup)
    met = {
        "zero_errors": traffic.get("errors") == 0 and traffic.get("requests", 0) > 0,
        "web_rss_flat": web["ok"],
        "worker_rss_flat": worker["ok"],
        "pg_connections_not_growing": conns["ok"],
        "beat_ran_throughout": beat_alive,
    }
    print(f"  {traffic.get('requests')} requests in {traffic.get('duration_s')} s "
          f"({traffic.get('requests_per_s')} req/s), errors {traffic.get('errors')}")  # fmt: skip
    print(f"  web RSS {web.get('min_kb', 0) / 1024:.1f}–{web.get('max_kb', 0) / 1024:.1f} MB (spread {web.get('spread')}), "
          f"worker RSS {worker.get('min_kb', 0) / 1024:.1f}–{worker.get('max_kb', 0) / 1024:.1f} MB "
          f"(spread {worker.get('spread')}), pg connections {conns.get('min')}–{conns.get('max')} "
          f"(first half max {conns.get('first_half_max')}, second {conns.get('second_half_max')})")  # fmt: skip
    print(f"  criteria: {met}")
    return {
        "ok": all(met.values()),
        "minutes": minutes,
        "warmup_s": warmup,
        "rate_target_ops_per_s": RATE,
        "clients": CLIENTS,
        "criteria": {"rss_tolerance": RSS_TOLERANCE, "conn_slack": CONN_SLACK, "sample_s": SAMPLE_SECONDS},
        "met": met,
        "load_average_before": [round(x, 2) for x in load_before],
        "traffic": traffic,
        "web_rss": web,
        "worker_rss": worker,
        "pg_connections": conns,
        "samples": [{k: v for k, v in s.items() if not k.endswith("_per_pid")} for s in samples],
        "last_sample_per_pid": {k: v for k, v in samples[-1].items() if k.endswith("_per_pid")} if samples else {},
    }


def _main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--load", action="store_true")
    parser.add_argument("--base-url")
    parser.add_argument("--admin-token")
    parser.add_argument("--member-token")
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--rate", type=float, default=RATE)
    parser.add_argument("--clients", type=int, default=CLIENTS)
    args = parser.parse_args()
    if not args.load:
        parser.error("use --load (the scenario itself runs from bench/run.py)")
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocx.settings")
    import django

    django.setup()  # for the webhook signing helper only
    json.dump(asyncio.run(_load(args)), sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
