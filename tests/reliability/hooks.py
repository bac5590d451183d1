"""Hooks installed in OCX subprocesses by ``tests.procs`` (``"tests.reliability.hooks:name"``).

Each one wraps a real code path with a checkpoint, so the test can SIGKILL the process at that
exact point; none changes what the code does otherwise.
"""

from __future__ import annotations

import os

from tests.procs import checkpoint, record


def record_deliveries(*, block_at: int | None = None) -> None:
    """An outbox handler, registered after the real ones, that records every event it is given
    (``deliveries``) and, at this process's ``block_at``-th delivery, stops at checkpoint
    ``handler``: the earlier handlers have run on that event, the batch is not settled."""
    from activity_feed.publish import register_handler

    seen = {"n": 0}

    def deliveries(event) -> None:
        seen["n"] += 1
        record("deliveries", event.pk)
        if block_at is not None and seen["n"] == block_at:
            checkpoint("handler")

    register_handler(deliveries)


def block_in_publish(*, event_prefix: str, when: str) -> None:
    """Stop a service that publishes an event whose type starts with ``event_prefix``:
    ``when="before_event"`` (the row is saved, the event not), ``"after_event"`` (both are
    written, nothing is committed) or ``"after_commit"`` (committed, the response not sent)."""
    from django.db import transaction

    from activity_feed import publish as spine

    original = spine.store_event

    def store_event(*, tenant, draft, actor=None):
        if not draft.type.startswith(event_prefix):
            return original(tenant=tenant, draft=draft, actor=actor)
        if when == "before_event":
            checkpoint("publish")
        stored = original(tenant=tenant, draft=draft, actor=actor)
        if when == "after_event":
            checkpoint("publish")
        elif when == "after_commit":
            transaction.on_commit(lambda: checkpoint("publish"))
        return stored

    spine.store_event = store_event
    record("hooked", os.getpid())
