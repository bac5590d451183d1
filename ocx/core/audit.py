"""Who did it, and why: the acting user and reason for history rows and events.

Requests set the actor through ``AuditContextMiddleware`` (DRF propagates token-authenticated
users to the underlying request, so both auth styles are covered). Celery tasks and management
commands wrap their work in ``acting_as(user, reason)``.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from contextvars import ContextVar

from simple_history.models import HistoricalRecords

_actor: ContextVar = ContextVar("ocx_actor", default=None)
_reason: ContextVar = ContextVar("ocx_reason", default=None)
_request: ContextVar = ContextVar("ocx_request", default=None)


@contextmanager
def acting_as(user, reason: str | None = None):
    """Attribute every history row and event written inside the block to ``user``."""
    actor_token = _actor.set(user)
    reason_token = _reason.set(reason)
    try:
        yield
    finally:
        _actor.reset(actor_token)
        _reason.reset(reason_token)


@contextmanager
def change_reason(reason: str | None):
    token = _reason.set(reason)
    try:
        yield
    finally:
        _reason.reset(token)


def current_actor():
    """The explicit actor, else the authenticated user of the current request, else None."""
    actor = _actor.get()
    if actor is not None:
        return actor
    request = _request.get()
    user = getattr(request, "user", None) if request is not None else None
    if user is not None and getattr(user, "is_authenticated", False):
        return user
    return None


def current_reason() -> str | None:
    return _reason.get()


def audited(func):
    """Service decorator: history rows written inside are attributed to the ``actor`` keyword
    argument (services take the actor explicitly; requests and tasks need not set a context)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        actor = kwargs.get("actor")
        if getattr(actor, "pk", None) is None:
            return func(*args, **kwargs)
        with acting_as(actor, reason=current_reason()):
            return func(*args, **kwargs)

    return wrapper


class History(HistoricalRecords):
    """simple-history with the actor and reason taken from the audit context."""

    def get_history_user(self, instance):
        explicit = getattr(instance, "_history_user", None)
        return explicit if explicit is not None else current_actor()

    def get_change_reason_for_object(self, instance, history_type, using):
        return getattr(instance, "_change_reason", None) or current_reason()

    def post_save(self, instance, created, using=None, **kwargs):
        # A full save that changed nothing (the admin saves its form before a transition, say)
        # would otherwise write a history row identical to the previous one. A save naming its
        # ``update_fields`` is a service writing what it changed: no query to compare.
        if (
            not created
            and not kwargs.get("raw", False)
            and kwargs.get("update_fields") is None
            and self._unchanged(instance, using)
        ):
            return
        super().post_save(instance, created, using=using, **kwargs)

    def _unchanged(self, instance, using) -> bool:
        last = getattr(instance, self.manager_name).using(using).order_by("-history_date", "-history_id").first()
        if last is None:
            return False
        return all(
            getattr(last, field.attname) == getattr(instance, field.attname) for field in self.fields_included(instance)
        )


class AuditContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)
