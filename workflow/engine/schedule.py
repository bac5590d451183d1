"""Periodic jobs of the engine (merged into workflow.schedule.BEAT_SCHEDULE)."""

from datetime import timedelta

BEAT_SCHEDULE = {
    "workflow.engine.sweep": {"task": "workflow.engine.sweep", "schedule": timedelta(seconds=15)},
}
