"""Factories of the event spine's tests."""

from __future__ import annotations

import factory

from activity_feed.models import IngestionSource
from ocx.events import publish


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
