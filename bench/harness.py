"""Benchmark harness: the distributed mode on PostgreSQL + Redis, load from a second process.

A scenario module in ``bench/scenarios/`` defines ``NAME`` and ``run(ctx) -> dict``. ``ctx`` is a
``BenchContext``: ``ctx.generate(...)`` code runs in this process with Django set up against the
bench database (use bulk inserts / COPY for scale); ``ctx.load(path, ...)`` drives the running
server from ``bench/loadgen.py`` in a separate process and returns its stats; ``ctx.token(user)``
and ``ctx.base_url`` help build requests. Whatever ``run`` returns is printed and written to
``bench/results/<NAME>-<UTC timestamp>.json`` (and ``bench/results/<NAME>-latest.json``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PYTHON = sys.executable

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/ocx_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/8"


def bench_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", os.environ.get("OCX_BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    env.setdefault("REDIS_URL", os.environ.get("OCX_BENCH_REDIS_URL", DEFAULT_REDIS_URL))
    env.setdefault("OCX_SECRET_KEY", "bench-only-secret")
    env["OCX_LOG_LEVEL"] = "WARNING"
    env["DJANGO_SETTINGS_MODULE"] = "ocx.settings"
    return env


def ensure_database(env: dict[str, str]) -> None:
    subprocess.run([PYTHON, "manage.py", "ensure_database"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([PYTHON, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)
    subprocess.run([PYTHON, "manage.py", "seed_demo"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([PYTHON, "manage.py", "collectstatic", "--no-input", "-v", "0"], cwd=ROOT, env=env, check=True)


def setup_django(env: dict[str, str]) -> None:
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "OCX_SECRET_KEY", "DJANGO_SETTINGS_MODULE")})
    import django

    django.setup()


class Server:
    """``uvicorn`` with several workers + one Celery worker, as in distributed mode."""

    def __init__(self, env: dict[str, str], port: int = 8055, web_workers: int = 2, celery: bool = True):
        self.env, self.port, self.web_workers, self.celery = env, port, web_workers, celery
        self.procs: list[subprocess.Popen] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        bin_dir = Path(PYTHON).parent
        self.procs.append(
            subprocess.Popen(
                [
                    str(bin_dir / "uvicorn"),
                    "ocx.asgi:application",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--workers",
                    str(self.web_workers),
                    "--timeout-graceful-shutdown",
                    "10",
                    "--log-level",
                    "warning",
                    "--no-access-log",
                ],
                cwd=ROOT,
                env=self.env,
            )
        )
        if self.celery:
            self.procs.append(
                subprocess.Popen(
                    [str(bin_dir / "celery"), "-A", "ocx", "worker", "--loglevel", "WARNING", "--concurrency", "1"],
                    cwd=ROOT,
                    env=self.env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.base_url}/health", timeout=2) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        self.__exit__(None, None, None)
        raise RuntimeError("server did not become healthy")

    def __exit__(self, *exc) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()


@dataclass
class BenchContext:
    env: dict[str, str]
    server: Server
    quick: bool = False
    minutes: float | None = None  # the soak's duration (``--minutes``)
    _tokens: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def token(self, username: str, password: str = "ocx-demo") -> str:
        if username not in self._tokens:
            request = urllib.request.Request(
                f"{self.base_url}/api/v1/auth/token",
                data=json.dumps({"username": username, "password": password}).encode(),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                self._tokens[username] = json.load(response)["token"]
        return self._tokens[username]

    def load(
        self,
        path: str,
        *,
        user: str = "acme-admin",
        method: str = "GET",
        body: str = "",
        concurrency: int | None = None,
        duration: float | None = None,
        warmup: float = 2,
        tenant: str | None = None,
    ) -> dict:
        """Drive ``path`` from a separate process; returns count, errors, throughput, p50/p95/p99.
        Starts once the outbox is drained, so no earlier step's background work is measured."""
        settle_outbox()
        concurrency = concurrency or LATENCY_CONCURRENCY
        duration = duration if duration is not None else (3 if self.quick else 15)
        cmd = [
            PYTHON,
            str(ROOT / "bench" / "loadgen.py"),
            "--url",
            f"{self.base_url}{path}",
            "--method",
            method,
            "--concurrency",
            str(concurrency),
            "--duration",
            str(duration),
            "--warmup",
            str(warmup),
            "--header",
            f"Authorization: Token {self.token(user)}",
        ]
        if tenant:
            cmd += ["--header", f"X-Tenant: {tenant}"]
        if body:
            cmd += ["--body", body]
        out = subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True, text=True).stdout
        return json.loads(out)


# Latency runs: closed-loop clients with one request in flight each. One client measures the
# latency a caller sees from the whole stack (uvicorn, Django, PostgreSQL, Redis, the Celery
# worker draining the events the load causes); on this 2-core box, whose CPUs also run the
# database, the worker and the load generator, more clients mostly measure queueing for the
# CPUs. Override with OCX_BENCH_CONCURRENCY (the README gives figures for 1 and 2).
LATENCY_CONCURRENCY = int(os.environ.get("OCX_BENCH_CONCURRENCY", "1"))


def settle_outbox(timeout: float = 300) -> int:
    """Wait until the Celery worker has dispatched every outbox row (earlier steps' events), so a
    latency run does not share the CPUs with that backlog. Returns the rows left (0 normally).
    Then, where the server runs without autovacuum, vacuum the work queue as autovacuum would
    have (its threshold on that table is 2,000 changed rows)."""
    from activity_feed.models import OutboxEvent, OutboxStatus

    deadline = time.monotonic() + timeout
    while True:
        left = (
            OutboxEvent.objects.all_tenants().filter(status__in=[OutboxStatus.PENDING, OutboxStatus.PROCESSING]).count()
        )
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    if not autovacuum_enabled():
        vacuum_analyze(OutboxEvent._meta.db_table)
    return left


def autovacuum_enabled() -> bool:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW autovacuum")
        return cursor.fetchone()[0] == "on"


def vacuum_analyze(*tables: str) -> None:
    """What autovacuum does to a table at rest after a bulk load: visibility map and statistics
    (index-only scans and plans as in production), run outside any transaction."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f'VACUUM ANALYZE "{table}"')


def write_result(name: str, result: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    document = {"scenario": name, "at": stamp, "machine": {"cpus": os.cpu_count()}, **result}
    path = RESULTS / f"{name}-{stamp}.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    (RESULTS / f"{name}-latest.json").write_text(json.dumps(document, indent=2) + "\n")
    return path


def print_stats(label: str, stats: dict) -> None:
    print(
        f"  {label:<38} p50 {stats['p50_ms']:>7.2f} ms  p95 {stats['p95_ms']:>7.2f} ms  "
        f"p99 {stats['p99_ms']:>7.2f} ms  {stats['throughput_rps']:>8.1f} req/s  errors {stats['errors']}"
    )
