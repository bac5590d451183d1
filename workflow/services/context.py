"""Automation chain depth: events written while an automation action runs carry
``automation_depth`` so a trigger whose action fires itself again stops after a few rounds."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

MAX_AUTOMATION_DEPTH = 5

_depth: ContextVar[int | None] = ContextVar("workflow_automation_depth", default=None)
_trigger: ContextVar[int | None] = ContextVar("workflow_automation_trigger", default=None)


@contextmanager
def automation(*, depth: int, trigger_id: int):
    depth_token = _depth.set(depth)
    trigger_token = _trigger.set(trigger_id)
    try:
        yield
    finally:
        _depth.reset(depth_token)
        _trigger.reset(trigger_token)


def stamp(data: dict) -> dict:
    depth = _depth.get()
    if depth is not None:
        data["automation_depth"] = depth
        data["automation_trigger_id"] = _trigger.get()
    return data
