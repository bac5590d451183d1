"""Periodic jobs of the runs app (merged into the beat schedule by ocx.celery)."""

from django.conf import settings

BEAT_SCHEDULE = {
    "runs-settle-leases": {
        "task": "runs.settle_leases",
        "schedule": float(settings.OCX_RUNS_SETTLE_INTERVAL),
    },
}
