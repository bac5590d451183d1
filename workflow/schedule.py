"""Periodic jobs of the workflow app (merged into the beat schedule by ocx.celery)."""

from datetime import timedelta

from workflow import conf
from workflow.engine.schedule import BEAT_SCHEDULE as ENGINE_BEAT_SCHEDULE

BEAT_SCHEDULE = {
    "workflow.scan_sla": {
        "task": "workflow.scan_sla",
        "schedule": timedelta(seconds=conf.sla_monitor_interval()),
    },
    "workflow.sweep_webhooks": {
        "task": "workflow.sweep_webhooks",
        "schedule": timedelta(seconds=30),
    },
}
BEAT_SCHEDULE.update(ENGINE_BEAT_SCHEDULE)
