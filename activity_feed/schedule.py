from datetime import timedelta

from django.conf import settings

BEAT_SCHEDULE = {
    "ocx.outbox.sweep": {
        "task": "ocx.tasks.dispatch_outbox",
        "schedule": timedelta(seconds=settings.OUTBOX_SWEEP_INTERVAL),
    },
    "ocx.outbox.purge": {"task": "ocx.tasks.purge_outbox", "schedule": timedelta(hours=1)},
    "activity_feed.purge_expired": {
        "task": "activity_feed.purge_expired",
        "schedule": timedelta(minutes=15),
    },
}
