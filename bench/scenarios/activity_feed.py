"""Activity feed (issue 5): ingestion rate, deep keyset pages, live fan-out latency.

1. **Bulk ingestion** — the same 1,000-event batches sent to ``/api/v1/ingest/webhook/<key>``
   (signed, Standard Webhooks arrays) and inserted raw through psycopg with a batched
   ``INSERT … ON CONFLICT DO NOTHING``; target: HTTP rate >= 0.5 x raw rate.
2. **Deep pages** — 1,000,000 events for one tenant (COPY), list p95 on the first page and on
   a page 500,000 events deep (via its cursor); target: both p95 < 20 ms.
3. **Live fan-out** — 500 subscribers (half SSE, half WebSocket) in a separate process; events
   are committed here (channels-redis carries them to the web workers); p99 from just before
   the commit to arrival, and the number lost; target: p99 < 150 ms, none lost.

Run: ``.venv/bin/python bench/run.py --only activity_feed [--quick]``. The subscriber side runs
as ``python bench/scenarios/activity_feed.py subscribe …`` (spawned by ``run``).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

NAME = "activity_feed"
ROOT = Path(__file__).resolve().parents[2]
BENCH_SECRET = "whsec_YmVuY2gtc2VjcmV0LWZvci1hY3Rpdml0eS1mZWVk"
BENCH_KEY = "bench-activity-feed"
DEEP_EVENTS = 1_000_000
DEEP_SOURCE = "bench-1m"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, int(round(q * (len(ordered) - 1)))))], 2)


# --- 1. ingestion -------------------------------------------------------------------------------
def _source(tenant):
    from activity_feed.models import IngestionSource

    source, _ = IngestionSource.objects.all_tenants().update_or_create(
        key=BENCH_KEY,
        defaults={"tenant": tenant, "kind": "webhook", "name": "bench", "secret": BENCH_SECRET, "is_active": True},
    )
    return source


def _batch(run: str, number: int, size: int) -> list[dict]:
    stamp = datetime.now(UTC).isoformat()
    return [
        {
            "type": "order.created",
            "timestamp": stamp,
            "data": {
                "title": f"Order {number}-{i} created",
                "entity_type": "order",
                "entity_id": f"{run}-{number}-{i}",
                "tags": ["bench", "orders"],
                "amount": i,
            },
        }
        for i in range(size)
    ]


async def _send_batches(base_url: str, batches: list[bytes], concurrency: int) -> tuple[float, dict]:
    import httpx

    from activity_feed.ingest.signatures import standard_webhook_sign

    statuses: dict[int, int] = {}
    queue = list(enumerate(batches))

    async def worker(client):
        while queue:
            number, body = queue.pop()
            msg_id = f"bench-{uuid.uuid4().hex}-{number}"
            stamp = int(time.time())
            headers = {
                "content-type": "application/json",
                "webhook-id": msg_id,
                "webhook-timestamp": str(stamp),
                "webhook-signature": standard_webhook_sign(
                    secret=BENCH_SECRET, msg_id=msg_id, timestamp=stamp, body=body
                ),
            }
            response = await client.post(f"{base_url}/api/v1/ingest/webhook/{BENCH_KEY}", content=body, headers=headers)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=concurrency)) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        return time.perf_counter() - started, statuses


def _raw_rows(tenant_id: int, run: str, batches: list[list[dict]]):
    """The rows the HTTP path stores for the same payloads (what the normaliser produces)."""
    for number, batch in enumerate(batches):
        rows = []
        for i, item in enumerate(batch):
            data = item["data"]
            rows.append((
                tenant_id, str(uuid.uuid4()), "bench.order.created", "webhook", "active", "normal", "bench",
                data["entity_id"], "order.created", data["title"], "", json.dumps(item), data["entity_id"], "order",
                None, "", item["timestamp"], datetime.now(UTC), None, f"raw:{run}:{number}:{i}",
                json.dumps(data["tags"]), "",
            ))  # fmt: skip
        yield rows


RAW_COLUMNS = (
    "tenant_id, event_id, type, source, status, priority, source_system, source_object_id, source_object_type, "
    "title, description, event_metadata, entity_id, entity_type, user_id, user_name, timestamp, created_at, "
    "expires_at, idempotency_key, tags, correlation_id"
)


def _raw_insert(dsn: str, tenant_id: int, run: str, batches: list[list[dict]]) -> float:
    import psycopg

    with psycopg.connect(dsn) as conn:
        started = time.perf_counter()
        for rows in _raw_rows(tenant_id, run, batches):
            one = "(" + ", ".join(["%s"] * 22) + ")"
            sql = (
                f"INSERT INTO activity_events ({RAW_COLUMNS}) VALUES {', '.join([one] * len(rows))} "
                "ON CONFLICT (tenant_id, idempotency_key) DO NOTHING"
            )
            with conn.cursor() as cursor:
                cursor.execute(sql, [v for row in rows for v in row])
            conn.commit()
        return time.perf_counter() - started


def bench_ingestion(ctx, tenant) -> dict:
    batches_count, size = (10, 1000) if ctx.quick else (100, 1000)
    run = uuid.uuid4().hex[:8]
    _source(tenant)
    batches = [_batch(run, n, size) for n in range(batches_count)]
    bodies = [json.dumps(b).encode() for b in batches]
    http_seconds, statuses = asyncio.run(_send_batches(ctx.base_url, bodies, concurrency=4))
    raw_seconds = _raw_insert(_dsn(ctx), tenant.pk, run, batches)
    events = batches_count * size
    http_rate, raw_rate = events / http_seconds, events / raw_seconds
    result = {
        "events": events,
        "batch_size": size,
        "http_statuses": {str(k): v for k, v in statuses.items()},
        "http_events_per_s": round(http_rate, 1),
        "raw_psycopg_events_per_s": round(raw_rate, 1),
        "ratio": round(http_rate / raw_rate, 3),
        "target_ratio": 0.5,
    }
    print(
        f"  ingest: HTTP {http_rate:,.0f} ev/s vs raw psycopg {raw_rate:,.0f} ev/s (ratio {result['ratio']}, target >= 0.5)"
    )
    return result


# --- 2. one million events, deep pages ---------------------------------------------------------
def _dsn(ctx) -> str:
    return ctx.env["DATABASE_URL"].replace("postgres://", "postgresql://", 1)


def generate_deep(dsn: str, tenant_id: int, target: int) -> int:
    """COPY events for one tenant until it has ``target`` of them (idempotent, resumable)."""
    import psycopg

    with psycopg.connect(dsn) as conn:
        have = conn.execute(
            "SELECT count(*) FROM activity_events WHERE tenant_id = %s AND source_system = %s", (tenant_id, DEEP_SOURCE)
        ).fetchone()[0]
        start = datetime(2024, 1, 1, tzinfo=UTC)
        types = ["crm.lead.created", "crm.lead.replied", "registry.activity.approved", "workflow.task.completed"]
        priorities = ["low", "normal", "normal", "high"]
        chunk = 100_000
        while have < target:
            upto = min(have + chunk, target)
            buffer = io.StringIO()
            now = datetime.now(UTC).isoformat()
            for i in range(have, upto):
                stamp = (start + timedelta(seconds=i * 3)).isoformat()
                buffer.write(
                    "\t".join([
                        str(tenant_id), str(uuid.uuid4()), types[i % 4], "internal", "active", priorities[i % 4],
                        DEEP_SOURCE, f"obj-{i}", "", f"Bench event {i}", "", f'{{"i": {i}}}', f"e-{i % 5000}",
                        "lead", "\\N", "", stamp, now, "\\N", f"{DEEP_SOURCE}-{i}", '["bench"]', "",
                    ]) + "\n"
                )  # fmt: skip
            with conn.cursor() as cursor, cursor.copy(f"COPY activity_events ({RAW_COLUMNS}) FROM STDIN") as copy:
                copy.write(buffer.getvalue())
            conn.commit()
            have = upto
            print(f"    {have:,} / {target:,} events", flush=True)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE activity_events")
        return have


def deep_cursor(dsn: str, tenant_id: int, depth: int) -> str:
    import base64

    import psycopg

    with psycopg.connect(dsn) as conn:
        stamp, pk = conn.execute(
            "SELECT timestamp, id FROM activity_events WHERE tenant_id = %s ORDER BY timestamp DESC, id DESC OFFSET %s LIMIT 1",
            (tenant_id, depth - 1),
        ).fetchone()
    return base64.urlsafe_b64encode(f"{stamp.isoformat()}|{pk}".encode()).decode().rstrip("=")


def bench_deep_pages(ctx, tenant) -> dict:
    from bench.harness import print_stats

    target = 100_000 if ctx.quick else DEEP_EVENTS
    depth = target // 2
    total = generate_deep(_dsn(ctx), tenant.pk, target)
    cursor = deep_cursor(_dsn(ctx), tenant.pk, depth)
    first = ctx.load("/api/v1/events?page_size=30")
    deep = ctx.load(f"/api/v1/events?page_size=30&cursor={cursor}")
    filtered = ctx.load(f"/api/v1/events?page_size=30&types=crm.lead.replied&cursor={cursor}")
    print_stats("GET /events first page", first)
    print_stats(f"GET /events {depth:,} deep (cursor)", deep)
    print_stats("GET /events deep, filtered by type", filtered)
    return {
        "events_for_tenant": total,
        "depth": depth,
        "first_page": first,
        "deep_page": deep,
        "deep_filtered": filtered,
        "target_p95_ms": 20,
    }


# --- 3. live fan-out ----------------------------------------------------------------------------
def bench_fanout(ctx, tenant) -> dict:
    from django.db import transaction

    from activity_feed.publish import publish

    subscribers = 100 if ctx.quick else 500
    count = 30 if ctx.quick else 100
    # Several client processes: one Python process parsing a 500-message burst per event
    # would itself add latency to the last messages of each burst.
    processes = 4
    outs = [ROOT / "var" / f"bench-fanout-{uuid.uuid4().hex[:6]}.json" for _ in range(processes)]
    procs = []
    for index, out in enumerate(outs):
        share = subscribers // processes + (1 if index < subscribers % processes else 0)
        procs.append(subprocess.Popen(
            [sys.executable, __file__, "subscribe", "--base-url", ctx.base_url, "--token", ctx.token("acme-admin"),
             "--subscribers", str(share), "--expect", str(count), "--out", str(out)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
        ))  # fmt: skip
    for proc in procs:
        ready = proc.stdout.readline().strip()
        if ready != "READY":
            for other in procs:
                other.kill()
            raise RuntimeError(f"subscribers did not connect: {ready!r}")
    run = uuid.uuid4().hex[:8]
    committed: dict[int, float] = {}
    for i in range(count):
        with transaction.atomic():
            # Registered before publish's own callback: runs first after COMMIT, i.e. this is
            # the commit time, before the event is pushed.
            transaction.on_commit(lambda i=i: committed.__setitem__(i, time.time()))
            publish(tenant=tenant, type="bench.fanout.tick", title=f"tick {i}", idempotency_key=f"fanout-{run}-{i}",
                    payload={"seq": i, "run": run})  # fmt: skip
        time.sleep(0.2)  # 5 events/s: 2,500 deliveries/s at 500 subscribers
    latencies: list[float] = []
    connect_errors = 0
    for proc, out in zip(procs, outs, strict=True):
        proc.wait(timeout=180)
        data = json.loads(out.read_text())
        out.unlink(missing_ok=True)
        latencies += [(arrived - committed[seq]) * 1000 for seq, arrived in data["arrivals"] if seq in committed]
        connect_errors += data["connect_errors"]
    result = {
        "subscribers": subscribers,
        "events": count,
        "deliveries_expected": subscribers * count,
        "deliveries": len(latencies),
        "lost": subscribers * count - len(latencies),
        "p50_ms": percentile(latencies, 0.5),
        "p99_ms": percentile(latencies, 0.99),
        "max_ms": round(max(latencies), 2) if latencies else None,
        "connect_errors": connect_errors,
        "client_processes": processes,
        "target_p99_ms": 150,
    }
    print(
        f"  fan-out: {subscribers} subscribers x {count} events: p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, lost {result['lost']}"
    )
    return result


async def _subscribe(args) -> dict:
    import httpx
    import websockets

    arrivals: list[tuple[int, float]] = []
    ready = 0
    errors = 0
    all_ready = asyncio.Event()
    done = asyncio.Event()
    half = args.subscribers // 2
    ws_url = args.base_url.replace("http", "ws", 1) + f"/ws/events/?token={args.token}&types=bench.fanout.tick"

    def mark_ready():
        nonlocal ready
        ready += 1
        if ready == args.subscribers - errors:
            all_ready.set()

    def arrived(event: dict, received: list):
        arrivals.append((event["event_metadata"]["seq"], time.time()))
        received.append(event["id"])

    async def sse(client):
        nonlocal errors
        received: list = []
        try:
            url = f"{args.base_url}/api/v1/events/stream?token={args.token}&types=bench.fanout.tick"
            async with client.stream("GET", url) as response:
                buffer = ""
                async for chunk in response.aiter_text():
                    buffer += chunk
                    while "\n\n" in buffer:
                        frame, buffer = buffer.split("\n\n", 1)
                        if ": connected" in frame:
                            mark_ready()
                        for line in frame.splitlines():
                            if line.startswith("data: "):
                                arrived(json.loads(line[6:])["event"], received)
                    if len(received) >= args.expect:
                        return
        except Exception:  # noqa: BLE001 - counted, reported
            errors += 1
            if ready >= args.subscribers - errors:
                all_ready.set()

    async def ws():
        nonlocal errors
        received: list = []
        try:
            async with websockets.connect(ws_url, max_size=None) as socket:
                async for raw in socket:
                    message = json.loads(raw)
                    if message["type"] == "welcome":
                        mark_ready()
                    elif message["type"] == "event":
                        arrived(message["event"], received)
                        if len(received) >= args.expect:
                            return
        except Exception:  # noqa: BLE001 - counted, reported
            errors += 1
            if ready >= args.subscribers - errors:
                all_ready.set()

    limits = httpx.Limits(max_connections=args.subscribers, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=httpx.Timeout(None, connect=30), limits=limits) as client:
        tasks = [asyncio.ensure_future(sse(client)) for _ in range(half)]
        tasks += [asyncio.ensure_future(ws()) for _ in range(args.subscribers - half)]
        await asyncio.wait_for(all_ready.wait(), timeout=120)
        print("READY", flush=True)
        finished = asyncio.gather(*tasks)
        try:
            await asyncio.wait_for(finished, timeout=args.expect * 0.2 + 30)
        except TimeoutError:
            pass
        done.set()
    return {"arrivals": arrivals, "connect_errors": errors}


# --- entry points -------------------------------------------------------------------------------
def run(ctx) -> dict:
    from ocx.core.models import Tenant

    tenant = Tenant.objects.get(slug="acme-corp")
    return {
        "ingestion": bench_ingestion(ctx, tenant),
        "deep_pages": bench_deep_pages(ctx, tenant),
        "fanout": bench_fanout(ctx, tenant),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["subscribe"])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--subscribers", type=int, default=500)
    parser.add_argument("--expect", type=int, default=100)
    parser.add_argument("--out", required=True)
    arguments = parser.parse_args()
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    sys.path.insert(0, str(ROOT))
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(_subscribe(arguments))
    Path(arguments.out).write_text(json.dumps(result))
