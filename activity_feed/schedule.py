from datetime import timedelta

BEAT_SCHEDULE = {
    "activity_feed.purge_expired": {
        "task": "activity_feed.purge_expired",
        "schedule": timedelta(minutes=15),
    },
}
