"""The retention purge's bypass of the append-only trigger.

PostgreSQL: the purge runs ``SET LOCAL ocx.purge = 'on'`` inside its transaction; the trigger
lets a DELETE of an *expired* event through only then. SQLite has no session settings, so the
trigger calls ``ocx_feed_purge()``, a function registered on every Django connection that
returns 1 only inside ``purge_mode()`` (a raw tool outside Django has no such function and
fails closed).
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from django.db import connection

_purging: ContextVar[bool] = ContextVar("ocx_feed_purge", default=False)


def _purge_flag() -> int:
    return 1 if _purging.get() else 0


def install_sqlite_purge_flag(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function("ocx_feed_purge", 0, _purge_flag)


@contextmanager
def purge_mode():
    """Inside a transaction: let DELETEs of expired events through the trigger."""
    token = _purging.set(True)
    try:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL ocx.purge = 'on'")
        yield
        # On error the transaction rolls back and SET LOCAL dies with it; on success switch
        # it off at once so later statements of the same transaction are guarded again.
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL ocx.purge = 'off'")
    finally:
        _purging.reset(token)
