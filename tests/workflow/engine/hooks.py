"""Hooks installed in a worker subprocess by ``tests.procs`` (``"tests.workflow.engine.hooks:…"``):
engine handlers that count their executions across processes and can stop at a checkpoint."""

from __future__ import annotations

from tests.procs import checkpoint, record

COUNTED = "TestCounted"


def counted(ctx) -> dict:
    record("executions", f"{ctx.key}:{ctx.item}:{ctx.attempt}")
    return {f"{ctx.key}_done": True} if ctx.item is None else {"item": ctx.item}


def register_counted_handler(*, block_attempt: int | None = None) -> None:
    """``TestCounted``: records every execution (``executions``: key:item:attempt); with
    ``block_attempt``, that attempt stops at checkpoint ``in_handler`` (to be SIGKILLed there)."""
    from workflow.engine import handlers

    def execute(ctx):
        result = counted(ctx)
        if block_attempt is not None and ctx.attempt == block_attempt:
            checkpoint("in_handler")
        return result

    handlers.register(handlers.Handler(COUNTED, execute, description="counts its executions (tests)"))
