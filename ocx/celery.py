"""The Celery app. Broker and schedule come from Django settings (``CELERY_*``).

Each app may contribute periodic jobs in ``<app>/schedule.py`` as a ``BEAT_SCHEDULE`` dict;
they are merged here so settings never has to know every app's jobs.
"""

import importlib
import os

from celery import Celery
from celery.signals import worker_process_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ocx.settings")

app = Celery("ocx")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

SCHEDULE_APPS = ("registry", "workflow", "activity_feed", "runs")


@app.on_after_configure.connect
def _merge_app_schedules(sender, **kwargs):
    schedule = dict(sender.conf.beat_schedule or {})
    for name in SCHEDULE_APPS:
        try:
            module = importlib.import_module(f"{name}.schedule")
        except ModuleNotFoundError as exc:
            if exc.name != f"{name}.schedule":
                raise
            continue
        schedule.update(getattr(module, "BEAT_SCHEDULE", {}))
    sender.conf.beat_schedule = schedule


@worker_process_init.connect
def _close_inherited_db_connections(**kwargs):
    # A forked pool child must not share the parent's database socket.
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        conn.close()
