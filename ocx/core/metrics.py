"""Prometheus metrics of the product (request metrics come from django-prometheus).

Counters live in the process that increments them. In distributed mode set
``PROMETHEUS_MULTIPROC_DIR`` for every process on a host so /metrics aggregates them. Apps
register scrape-time collectors (read from the database, right in every mode) here.
"""

from __future__ import annotations

from celery.signals import task_failure, task_postrun, task_retry
from prometheus_client import REGISTRY, Counter

CELERY_TASKS = Counter("celery_tasks_total", "Celery tasks finished, by task and outcome", ["task", "outcome"])


@task_postrun.connect
def _count_task(sender=None, state=None, **kwargs):
    CELERY_TASKS.labels(task=getattr(sender, "name", "unknown"), outcome=(state or "unknown").lower()).inc()


@task_failure.connect
def _count_failure(sender=None, **kwargs):
    CELERY_TASKS.labels(task=getattr(sender, "name", "unknown"), outcome="failure_signal").inc()


@task_retry.connect
def _count_retry(sender=None, **kwargs):
    CELERY_TASKS.labels(task=getattr(sender, "name", "unknown"), outcome="retry").inc()


_collectors: list = []


def register_collector(collector) -> None:
    """Add a scrape-time collector once (apps register theirs in AppConfig.ready)."""
    if any(type(c) is type(collector) for c in _collectors):
        return
    _collectors.append(collector)
    REGISTRY.register(collector)
