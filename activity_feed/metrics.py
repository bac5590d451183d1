"""Metrics of the event spine: events published, outbox rows settled, the outbox backlog."""

from __future__ import annotations

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily

OUTBOX_PROCESSED = Counter(
    "outbox_events_processed_total", "Outbox events settled by the dispatcher", ["event_type", "status"]
)
EVENTS_PUBLISHED = Counter("ocx_events_published_total", "Events published to the spine", ["type"])


class OutboxCollector:
    """Outbox backlog by status, straight from the table."""

    def describe(self):
        # Lets the registry learn the name without querying (no table yet at import time).
        yield GaugeMetricFamily("outbox_backlog", "Outbox rows by status", labels=["status"])

    def collect(self):
        from django.db.models import Count

        from activity_feed.models import OutboxEvent

        gauge = GaugeMetricFamily("outbox_backlog", "Outbox rows by status", labels=["status"])
        counts = dict(
            OutboxEvent.objects.all_tenants().exclude(status="done").values_list("status").annotate(n=Count("id"))
        )
        for status in ("pending", "processing", "dead"):
            gauge.add_metric([status], counts.get(status, 0))
        yield gauge
