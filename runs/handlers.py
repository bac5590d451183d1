"""In-process handlers: code registered by activity name that executes a run inside a Celery
worker (``runs.execute_run``), as an alternative to an external agent claiming it.

    from runs.handlers import register, TransientError

    @register("PO_Approval")
    def po_approval(ctx: RunContext) -> dict:
        ...                      # return the run's output (a JSON object)

A handler gets a :class:`RunContext` and returns a JSON-serialisable dict. It runs outside any
database transaction. Raising :class:`TransientError` (or ``ConnectionError`` / ``TimeoutError``)
asks for another attempt with exponential backoff, up to the run's ``max_attempts``; any other
exception fails the run with ``error_type`` = the exception's class name. A long handler should
look at ``ctx.cancel_requested()`` between steps: a cancelled run ends ``cancelled`` when the
handler returns, whatever it returns.

An activity with no handler runs only through agents; asking for in-process execution of it is
a 400. (The workflow engine's activity handlers are registered the same way.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

Handler = Callable[["RunContext"], dict]
_handlers: dict[str, Handler] = {}


class TransientError(Exception):
    """A failure worth another attempt (a dependency was briefly unavailable)."""


#: Exceptions retried like ``TransientError``.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (TransientError, ConnectionError, TimeoutError)


@dataclass(frozen=True)
class RunContext:
    """What a handler knows about the run it executes."""

    run_id: str
    tenant_id: int
    work_unit_id: str
    activity_version: str
    environment: str
    attempt: int
    input: Any
    details: Any = None  # the checkpoint the previous attempt left, if any
    source: str = ""  # the activity version's EBCL source
    _cancel_check: Callable[[], bool] | None = field(default=None, repr=False, compare=False)

    def cancel_requested(self) -> bool:
        """True once someone asked to cancel this run (one query)."""
        return bool(self._cancel_check and self._cancel_check())


def register(name: str) -> Callable[[Handler], Handler]:
    """Decorator: ``handler`` executes runs of the activity called ``name`` in process."""

    def decorate(handler: Handler) -> Handler:
        existing = _handlers.get(name)
        same = existing is not None and (existing.__module__, existing.__qualname__) == (
            handler.__module__,
            handler.__qualname__,
        )  # the same function, its module imported again
        if existing is not None and not same:
            raise ValueError(f"A handler for {name!r} is already registered ({existing.__qualname__}).")
        _handlers[name] = handler
        return handler

    return decorate


def unregister(name: str) -> None:
    _handlers.pop(name, None)


def handler_for(name: str) -> Handler | None:
    return _handlers.get(name)


def registered() -> list[str]:
    return sorted(_handlers)
