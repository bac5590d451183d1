"""Engine fixtures: test handlers (recording what ran), a controlled clock, and a runner that
executes on-commit callbacks (Celery is eager in tests: queued attempts run in place)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from workflow.engine import handlers
from workflow.engine.handlers import ActivityError, Handler


class Recorder:
    def __init__(self):
        self.calls: list[tuple[str, object]] = []
        self.compensated: list[str] = []
        self.failures: dict[str, int] = {}  # key or item → failures left
        self.error_type: dict[str, str] = {}

    def ran(self, key):
        return [c for c in self.calls if c[0] == key]


@pytest.fixture
def recorder():
    rec = Recorder()

    def echo(ctx):
        rec.calls.append((ctx.key, ctx.item))
        name = str(ctx.item) if ctx.item is not None else ctx.key
        left = rec.failures.get(name, 0)
        if left:
            rec.failures[name] = left - 1
            raise ActivityError(f"{name} failed", error_type=rec.error_type.get(name, "Flaky"))
        if ctx.item is not None:
            return {"item": ctx.item, "by": ctx.key}
        return {f"{ctx.key}_done": True, **ctx.parameters.get("writes", {})}

    def compensate(ctx):
        rec.compensated.append(ctx.key)
        return {}

    added = [
        handlers.register(Handler("TestEcho", echo, description="records the call")),
        handlers.register(Handler("TestCompensate", echo, compensate=compensate)),
    ]
    yield rec
    for handler in added:
        handlers._registry.pop(handler.name, None)


@pytest.fixture
def clock(monkeypatch):
    """``clock.advance(seconds)``: the engine's time moves; nothing sleeps."""

    class Clock:
        def __init__(self):
            self.now = timezone.now()

        def advance(self, seconds: float):
            self.now += timedelta(seconds=seconds)

    c = Clock()
    monkeypatch.setattr("workflow.engine.services.runtime.now", lambda: c.now)
    return c


@pytest.fixture
def run(django_capture_on_commit_callbacks):
    """``run(fn, **kw)``: call a service and run what it queued on commit (eager Celery)."""

    def call(fn, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(**kwargs)

    return call


@pytest.fixture
def sent(monkeypatch):
    """Record queued attempts instead of running them: [(activity_id, attempt, countdown)]."""
    calls = []

    def record(args, countdown=None, **options):
        calls.append((args[0], args[1], countdown, options))

    monkeypatch.setattr("workflow.engine.tasks.run_activity.apply_async", record)
    return calls
