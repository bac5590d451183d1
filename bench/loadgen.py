"""Load generator, run as its own process: N concurrent keep-alive clients for D seconds.

Prints one JSON object: count, errors, throughput (req/s), latency percentiles in ms.
Usage: loadgen.py --url URL [--method GET] [--body JSON] [--header 'K: V' ...]
       [--concurrency 8] [--duration 10] [--warmup 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time

import httpx


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, int(round(q * (len(sorted_values) - 1)))))
    return sorted_values[index]


async def main(args) -> dict:
    headers = dict(h.split(": ", 1) for h in args.header)
    body = args.body.encode() if args.body else None
    if body:
        headers.setdefault("Content-Type", "application/json")
    latencies: list[float] = []
    errors = 0
    statuses: dict[int, int] = {}
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        # body_template may contain {n}: a unique number per request (for create endpoints).
        counter = iter(range(10**12))

        async def one(record: bool):
            nonlocal errors
            payload = body.replace(b"{n}", str(next(counter)).encode()) if body else None
            started = time.perf_counter()
            try:
                response = await client.request(args.method, args.url, content=payload, headers=headers)
                status = response.status_code
            except httpx.HTTPError:
                status = 0
            elapsed = (time.perf_counter() - started) * 1000
            if record:
                statuses[status] = statuses.get(status, 0) + 1
                if 200 <= status < 300:
                    latencies.append(elapsed)
                else:
                    errors += 1

        async def worker(until: float, record: bool):
            while time.perf_counter() < until:
                await one(record)

        warm_until = time.perf_counter() + args.warmup
        await asyncio.gather(*(worker(warm_until, False) for _ in range(args.concurrency)))
        started = time.perf_counter()
        until = started + args.duration
        await asyncio.gather(*(worker(until, True) for _ in range(args.concurrency)))
        wall = time.perf_counter() - started
    latencies.sort()
    return {
        "url": args.url,
        "method": args.method,
        "concurrency": args.concurrency,
        "duration_s": round(wall, 2),
        "count": len(latencies),
        "errors": errors,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "throughput_rps": round(len(latencies) / wall, 1) if wall else 0.0,
        "p50_ms": round(percentile(latencies, 0.50), 2),
        "p95_ms": round(percentile(latencies, 0.95), 2),
        "p99_ms": round(percentile(latencies, 0.99), 2),
        "mean_ms": round(statistics.fmean(latencies), 2) if latencies else 0.0,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--method", default="GET")
    parser.add_argument("--body", default="")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=2)
    result = asyncio.run(main(parser.parse_args()))
    json.dump(result, sys.stdout)
