"""The one service recipe: ``@service`` on every function that writes.

    @service
    def activity_suspend(*, tenant, actor, activity_id, reason: str) -> Activity: ...

It checks the shape when the module is imported (keyword-only parameters, an ``actor``
parameter) and at every call opens, at the top, the transaction that the writes, history rows
and events share (``transaction.atomic``), the audit context (history rows name the actor) and
the lock scope (``ocx.core.locks``: parents before children, siblings in pk order).
"""

from __future__ import annotations

import functools
import inspect

from django.db import transaction

from ocx.core.audit import acting_as, current_reason
from ocx.core.locks import lock_scope


def service(func):
    """Transaction + audit + lock order for one use case (see the module docstring)."""
    params = inspect.signature(func).parameters
    positional = [
        name for name, p in params.items() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    if positional:
        raise TypeError(f"service {func.__qualname__}: parameters must be keyword-only, not {positional}")
    if "actor" not in params:
        raise TypeError(f"service {func.__qualname__} must take the acting user as `actor`")

    @functools.wraps(func)
    def wrapper(**kwargs):
        actor = kwargs.get("actor")
        with transaction.atomic(), lock_scope():
            if getattr(actor, "pk", None) is None:
                return func(**kwargs)
            with acting_as(actor, reason=current_reason()):
                return func(**kwargs)

    wrapper.is_service = True
    return wrapper
