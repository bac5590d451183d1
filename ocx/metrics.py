"""Prometheus metrics of the product (request metrics come from django-prometheus).

Counters live in the process that increments them. In distributed mode set
``PROMETHEUS_MULTIPROC_DIR`` for every process on a host so /metrics aggregates them; the
outbox backlog is read from the database at scrape time, so it is right in every mode.
"""

from __future__ import annotations

from celery.signals import task_failure, task_postrun, task_retry
from prometheus_client import REGISTRY, Counter
from prometheus_client.core import GaugeMetricFamily

OUTBOX_PROCESSED = Counter(
    "outbox_events_processed_total", "Outbox events settled by the dispatcher", ["event_type", "status"]
)
CELERY_TASKS = Counter("celery_tasks_total", "Celery tasks finished, by task and outcome", ["task", "outcome"])
EVENTS_PUBLISHED = Counter("ocx_events_published_total", "Events published to the spine", ["type"])


@task_postrun.connect
def _count_task(sender=None, state=None, **kwargs):
    CELERY_TASKS.labels(task=getattr(sender, "name", "unknown"), outcome=(state or "unknown").lower()).inc()


@task_failure.connect
def _count_failure(sender=None, **kwargs):
    CELERY_TASKS.labels(task=getattr(sender, "name", "unknown"), outcome="failure_signal").inc()


@task_retry.connect
def _count_retry(sender=None, **kwargs):
    CELERY_TASKS.labels(task=getattr(sender, "name", "unknown"), outcome="retry").inc()


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


_collectors: list = []


def register_collector(collector) -> None:
    """Add a scrape-time collector once (apps register theirs in AppConfig.ready)."""
    if any(type(c) is type(collector) for c in _collectors):
        return
    _collectors.append(collector)
    REGISTRY.register(collector)
