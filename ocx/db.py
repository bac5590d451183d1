"""Database helpers shared by the apps' migrations and services."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from django.db import migrations


class VendorRunSQL(migrations.RunPython):
    """Run vendor-specific SQL (triggers) in a migration: PostgreSQL and SQLite each get theirs.

    ``postgresql`` / ``sqlite`` are lists of statements (SQLite's executes one at a time).
    """

    def __init__(self, *, postgresql: list[str], sqlite: list[str], reverse_postgresql=None, reverse_sqlite=None):
        self.sql = {"postgresql": postgresql, "sqlite": sqlite}
        self.reverse_sql = {"postgresql": reverse_postgresql or [], "sqlite": reverse_sqlite or []}
        super().__init__(self._forward, self._backward)

    def _run(self, schema_editor, statements):
        vendor = schema_editor.connection.vendor
        if vendor not in statements:
            raise NotImplementedError(f"No trigger SQL for database vendor {vendor!r}")
        for statement in statements[vendor]:
            schema_editor.execute(statement, params=None)

    def _forward(self, apps, schema_editor):
        self._run(schema_editor, self.sql)

    def _backward(self, apps, schema_editor):
        self._run(schema_editor, self.reverse_sql)

    def deconstruct(self):
        return (
            self.__class__.__name__,
            [],
            {
                "postgresql": self.sql["postgresql"],
                "sqlite": self.sql["sqlite"],
                "reverse_postgresql": self.reverse_sql["postgresql"],
                "reverse_sqlite": self.reverse_sql["sqlite"],
            },
        )


def lock_in_pk_order(queryset):
    """``SELECT … FOR UPDATE`` rows in primary-key order, so two services never deadlock."""
    return list(queryset.select_for_update().order_by("pk"))


# --- Guard triggers on SQLite -------------------------------------------------------------
# SQLite has no session settings, so OCX's guard triggers call ``ocx_guard()``, a function
# registered on every Django connection: it returns 1 (guard on) unless the current context is
# inside ``triggers_bypassed()``. Outside Django the function does not exist and the trigger
# errors, so a raw tool fails closed. PostgreSQL needs no bypass: test flushes use TRUNCATE,
# which does not fire row triggers.
_bypass: ContextVar[bool] = ContextVar("ocx_trigger_bypass", default=False)


@contextmanager
def triggers_bypassed():
    """Let maintenance code (test database flushes) delete guarded rows on SQLite."""
    token = _bypass.set(True)
    try:
        yield
    finally:
        _bypass.reset(token)


def _guard() -> int:
    return 0 if _bypass.get() else 1


def install_sqlite_guard(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function("ocx_guard", 0, _guard)
