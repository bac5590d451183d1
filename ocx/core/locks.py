"""Row locks, always in one order, so two services never deadlock.

Every path locks through ``lock_rows``: parents before children (a model's ``lock_order``: the
lower number is the parent — an activity before its deployments and approvals, a task before
its SLA clock), and siblings of one model in primary-key order. Asking for a parent after one
of its children in the same transaction is a programming error (``LockOrderError``), caught by
the first test that runs the path, long before two requests meet in production.
(saleor's ``lock_objects`` modules, with the order checked instead of documented.)
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction

DEFAULT_LOCK_ORDER = 100
# What the current unit of work has locked so far (highest lock order, and which model). A unit
# is one service call (``ocx.core.services.service`` opens it) or an explicit ``lock_scope()``
# (a beat job's per-row transaction): not the database transaction, which in tests wraps many.
_scope: ContextVar[dict | None] = ContextVar("ocx_lock_scope", default=None)


class LockOrderError(RuntimeError):
    """A row was locked after rows that must come after it: this path could deadlock."""


def lock_order(model) -> int:
    return getattr(model, "lock_order", DEFAULT_LOCK_ORDER)


@contextmanager
def lock_scope():
    """A unit of work whose locks must follow the order; nested scopes join the outer one."""
    if _scope.get() is not None:
        yield
        return
    token = _scope.set({"order": -1, "model": None})
    try:
        yield
    finally:
        _scope.reset(token)


def lock_rows(queryset, *, skip_locked: bool = False, of: tuple[str, ...] = ()) -> list:
    """``SELECT … FOR UPDATE`` the rows of ``queryset`` in primary-key order (``of``: lock only
    these tables of a joined query, e.g. ``("self",)``; ``skip_locked``: leave rows another
    transaction holds). Must run inside a transaction."""
    connection = transaction.get_connection(queryset.db)
    if not connection.in_atomic_block:
        raise RuntimeError("lock_rows runs inside the service's transaction")
    model = queryset.model
    rank = lock_order(model)
    held = _scope.get() or {"order": -1, "model": None}
    if rank < held["order"]:
        raise LockOrderError(
            f"{model.__name__} (lock order {rank}) locked after {held['model']} (lock order {held['order']}): "
            "lock parents first"
        )
    rows = list(queryset.select_for_update(skip_locked=skip_locked, of=of).order_by("pk"))
    if rows:
        held["order"], held["model"] = rank, model.__name__
    return rows


def lock_one(queryset, *, skip_locked: bool = False, of: tuple[str, ...] = ()):
    """The single row of ``queryset``, locked (None if there is none)."""
    rows = lock_rows(queryset, skip_locked=skip_locked, of=of)
    if len(rows) > 1:
        raise RuntimeError(f"lock_one matched {len(rows)} {queryset.model.__name__} rows")
    return rows[0] if rows else None


def lock_get_or_404(
    queryset, what: str, *, of: tuple[str, ...] = (), message: str | None = None, details: dict | None = None, **lookup
):
    """``get_or_404`` under a lock: the row of ``lookup``, locked; NOT_FOUND otherwise (``of``: as
    for ``lock_rows``, e.g. ``("self",)`` when ``queryset`` joins nullable relations, which
    PostgreSQL refuses to lock)."""
    from django.core.exceptions import ValidationError

    from ocx.core.db import get_or_404

    try:
        row = lock_one(queryset.filter(**lookup), of=of)
    except (ValueError, TypeError, OverflowError, ValidationError):  # a malformed id: not found
        row = None
    if row is None:
        # raises the one NOT_FOUND
        get_or_404(queryset.model._base_manager.none(), what, message=message, details=details, **lookup)
    return row
