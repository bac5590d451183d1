"""Factories of the event spine's tests."""

from __future__ import annotations

import factory
from channels.db import database_sync_to_async
from django.db import transaction

from activity_feed.models import IngestionSource
from activity_feed.publish import publish


class IngestionSourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = IngestionSource

    kind = "webhook"
    name = factory.Sequence(lambda n: f"source{n}")


def event(tenant, type="test.thing.happened", **kwargs):
    """Publish an event through the real API (services are the only writers)."""
    return publish(tenant=tenant, type=type, **kwargs)


def events(tenant, count, **kwargs):
    return [event(tenant, title=f"event {i}", **kwargs) for i in range(count)]


# Async tests (SSE, WebSocket): publish in its own committed transaction, as a service would.
@database_sync_to_async
def publish_committed(tenant, title, **kwargs):
    with transaction.atomic():
        return publish(tenant=tenant, type=kwargs.pop("type", "test.thing.happened"), title=title, **kwargs)


@database_sync_to_async
def publish_many(tenant, count, prefix="missed"):
    made = []
    for i in range(count):
        with transaction.atomic():
            made.append(
                publish(
                    tenant=tenant, type="test.thing.happened", title=f"{prefix} {i}", idempotency_key=f"{prefix}-{i}"
                )
            )
    return made
