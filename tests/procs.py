"""Real OCX processes for a test, stopped where the test says and killed with SIGKILL.

``procs`` (the fixture below) starts a Celery worker (``celery -A ocx worker``) or the web
server (uvicorn serving ``ocx.asgi:application``) as a subprocess in distributed mode, on this
test's PostgreSQL database and Redis (``tests.conftest.process_env``). The test process stops
running Celery eagerly, so its commits queue work for the worker exactly as in production.

Where to stop is placed by *hooks*: ``"module:function"`` paths (with JSON-able keyword
arguments) that the child calls after ``django.setup()`` and before it serves, typically to
wrap a function with a ``checkpoint(name)``. A checkpoint announces it was reached (a file in
the test's signal directory) and then blocks until the test releases it — or kills the process.
The test waits for the announcement, never for a timed sleep::

    worker = procs.worker(hooks=[("tests.reliability.hooks:block_in_handler", {"at": 3})])
    procs.signals.wait("handler", proc=worker)   # the worker is inside its 3rd event
    worker.kill()                                # SIGKILL: no cleanup, no settle, no ack

``record(name, value)`` appends a line to a log shared by all processes (deliveries counted
across a kill); ``Signals.records(name)`` reads it back. Needs PostgreSQL + Redis: mark the
test ``postgres``, ``redis`` and ``django_db(transaction=True)``.

Run as ``python -m tests.procs {worker|web} [args…]`` this module is the child's entry point.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SIGNALS_ENV = "OCX_TEST_SIGNALS"
HOOKS_ENV = "OCX_TEST_HOOKS"
_POLL = 0.01


# --- in the child: checkpoints and shared records ----------------------------------------------
def _signal_dir() -> Path:
    return Path(os.environ[SIGNALS_ENV])


def checkpoint(name: str) -> None:
    """Announce ``name`` reached (once per call), then block until the test releases it."""
    directory = _signal_dir()
    with open(directory / f"{name}.reached", "a") as f:
        f.write(f"{os.getpid()}\n")
    release = directory / f"{name}.release"
    while not release.exists():
        time.sleep(_POLL)


def record(name: str, value: object) -> None:
    """Append ``value`` to the shared log ``name`` (one line; O_APPEND keeps lines whole)."""
    with open(_signal_dir() / f"{name}.log", "a") as f:
        f.write(f"{os.getpid()} {value}\n")


# --- in the test: the signal directory ----------------------------------------------------------
@dataclass
class Signals:
    directory: Path

    def reached(self, name: str) -> int:
        path = self.directory / f"{name}.reached"
        return len(path.read_text().splitlines()) if path.exists() else 0

    def wait(self, name: str, *, count: int = 1, proc: OcxProcess | None = None, timeout: float = 60) -> None:
        """Block until checkpoint ``name`` was reached ``count`` times; fail fast if ``proc`` died."""
        wait_until(lambda: self.reached(name) >= count, f"checkpoint {name!r} x{count}", proc=proc, timeout=timeout)

    def release(self, name: str) -> None:
        (self.directory / f"{name}.release").touch()

    def records(self, name: str) -> list[tuple[int, str]]:
        """``(pid, value)`` of every ``record(name, value)`` so far, in order."""
        path = self.directory / f"{name}.log"
        if not path.exists():
            return []
        return [(int(pid), value) for pid, value in (line.split(" ", 1) for line in path.read_text().splitlines())]


@dataclass
class OcxProcess:
    kind: str
    popen: subprocess.Popen
    log_path: Path
    base_url: str | None = None
    _log: object = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to finish, roll back, settle or acknowledge."""
        if self.alive():
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=30)

    def stop(self, timeout: float = 20) -> None:
        if self.alive():
            self.popen.terminate()
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        if self._log:
            self._log.close()

    def log(self, tail: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-tail:] if self.log_path.exists() else ""


def wait_until(predicate: Callable[[], bool], what: str, *, proc: OcxProcess | None = None, timeout: float = 60):
    """Poll ``predicate`` (a cheap read); fail with ``what`` and the process's log otherwise."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc is not None and not proc.alive():
            pytest.fail(f"{proc.kind} exited ({proc.popen.returncode}) before {what}:\n{proc.log()}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}" + (f"; {proc.kind} log:\n{proc.log()}" if proc else ""))
        time.sleep(0.05)


Hook = str | tuple[str, dict]


class Procs:
    """Starts OCX processes for one test; all are stopped at teardown."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.signals = Signals(tmp_path / "signals")
        self.signals.directory.mkdir()
        self.started: list[OcxProcess] = []

    def _spawn(self, kind: str, args: list[str], *, hooks, env, base_url=None) -> OcxProcess:
        from tests.conftest import process_env

        specs = [[h, {}] if isinstance(h, str) else [h[0], h[1]] for h in hooks]
        full_env = process_env(
            OCX_CELERY_EAGER="0",
            OCX_LOG_LEVEL="WARNING",
            **{SIGNALS_ENV: str(self.signals.directory), HOOKS_ENV: json.dumps(specs)},
            **env,
        )
        log_path = self.tmp_path / f"{kind}-{len(self.started)}.log"
        log = open(log_path, "w")
        popen = subprocess.Popen(
            [sys.executable, "-m", "tests.procs", kind, *args],
            cwd=ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        proc = OcxProcess(kind=kind, popen=popen, log_path=log_path, base_url=base_url, _log=log)
        self.started.append(proc)
        return proc

    def worker(self, *, hooks: list[Hook] = (), beat: bool = False, env: dict | None = None) -> OcxProcess:
        """``celery worker`` (solo pool, one task at a time; with ``beat``, embedded beat)."""
        args = ["-s", str(self.tmp_path / f"beat-{len(self.started)}")] if beat else []
        return self._spawn("worker", ["--beat" if beat else "--no-beat", *args], hooks=hooks, env=env or {})

    def web(self, *, hooks: list[Hook] = (), env: dict | None = None, wait: bool = True) -> OcxProcess:
        """uvicorn on a free loopback port, one process; returns once ``/health`` answers."""
        import httpx

        from tests.conftest import free_port

        port = free_port()
        proc = self._spawn("web", [str(port)], hooks=hooks, env=env or {}, base_url=f"http://127.0.0.1:{port}")

        def up() -> bool:
            try:
                return httpx.get(f"{proc.base_url}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        if wait:
            wait_until(up, "the web server to answer /health", proc=proc, timeout=60)
        return proc

    def close(self) -> None:
        # The test is over: a short grace, then SIGKILL (a Celery warm shutdown can take seconds).
        for proc in self.started:
            proc.stop(timeout=3)


@pytest.fixture
def procs(tmp_path, transactional_db):
    """A ``Procs`` for this test: the test process publishes to the broker instead of running
    Celery tasks in-process, and starts from an empty queue."""
    from ocx.celery import app

    was_eager = app.conf.task_always_eager
    app.conf.task_always_eager = False
    app.control.purge()
    started = Procs(tmp_path)
    try:
        yield started
    finally:
        started.close()
        app.conf.task_always_eager = was_eager
        app.control.purge()


# --- the child's entry point -------------------------------------------------------------------
def _install_hooks() -> None:
    from django.utils.module_loading import import_string

    for path, kwargs in json.loads(os.environ.get(HOOKS_ENV, "[]")):
        import_string(path.replace(":", "."))(**kwargs)


def _child(argv: list[str]) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocx.settings")
    django.setup()
    _install_hooks()
    kind, rest = argv[0], argv[1:]
    if kind == "worker":
        from ocx.celery import app

        beat, rest = rest[0] == "--beat", rest[1:]
        cmd = ["worker", "--pool", "solo", "--concurrency", "1", "--loglevel", "WARNING", "--without-mingle",
               "--without-gossip", *(["-B"] if beat else []), *rest]  # fmt: skip
        app.worker_main(cmd)
    elif kind == "web":
        import uvicorn

        uvicorn.run("ocx.asgi:application", host="127.0.0.1", port=int(rest[0]), lifespan="off", log_level="warning")
    else:
        raise SystemExit(f"unknown process kind {kind!r}")


if __name__ == "__main__":
    _child(sys.argv[1:])
