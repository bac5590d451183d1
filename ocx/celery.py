"""The Celery app. Broker and schedule come from Django settings (``CELERY_*``).

Each app may contribute periodic jobs in ``<app>/schedule.py`` as a ``BEAT_SCHEDULE`` dict;
they are merged here so settings never has to know every app's jobs.
"""

import importlib
import os

from celery import Celery
from celery.signals import task_postrun, task_prerun, worker_process_init

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


@task_prerun.connect
@task_postrun.connect
def _recycle_db_connections(sender=None, **kwargs):
    # What Django does around a request: hand the connection back to the pool, or drop it if
    # it broke (see CELERY_DB_REUSE_MAX in settings for why Celery's own handling is off). An
    # eager task runs inside its caller's transaction: leave that connection alone.
    if getattr(getattr(sender, "request", None), "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
