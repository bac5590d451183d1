"""``manage.py run_embedded``: the whole product in one process (what ``make run`` starts).

One uvicorn server serves HTTP and WebSocket; a Celery worker (thread pool) and Celery beat run
in threads of the same process on the in-memory broker. Ctrl-C stops the server first, then
beat, then the worker.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import uvicorn
from celery.beat import EmbeddedService
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

logger = logging.getLogger("ocx.embedded")


class Command(BaseCommand):
    help = "Run OCX in embedded mode: ASGI server + Celery worker + Celery beat in one process."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.OCX_HOST, help="default: OCX_HOST (alias HOST)")
        parser.add_argument("--port", type=int, default=settings.PORT, help="default: PORT")
        parser.add_argument("--concurrency", type=int, default=2, help="Celery worker threads")

    def handle(self, *args, host, port, concurrency, **options):
        from ocx.celery import app

        if not settings.CELERY_BROKER_URL.startswith("memory://"):
            raise CommandError("run_embedded is for embedded mode; unset REDIS_URL or use `make run-distributed`.")

        worker = app.WorkController(
            pool_cls="threads",
            concurrency=concurrency,
            loglevel="INFO",
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
            hostname=f"embedded@{host}",
        )
        worker_thread = threading.Thread(target=worker.start, name="celery-worker", daemon=True)
        beat = EmbeddedService(app, thread=True, schedule_filename=settings.CELERY_BEAT_SCHEDULE_FILENAME)

        if settings.USING_DEV_SECRET_KEY:  # said once per start (ocx.checks: W001 is a deploy check)
            from ocx.checks import SECRET_KEY_HINT, SECRET_KEY_WARNING

            self.stderr.write(self.style.WARNING(f"(ocx.W001) {SECRET_KEY_WARNING} {SECRET_KEY_HINT}"))
        # WhiteNoise warns at start-up when the directory is missing (no collectstatic yet): the
        # finders serve the files meanwhile (WHITENOISE_USE_FINDERS).
        Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)

        worker_thread.start()
        beat.start()
        self.stdout.write(self.style.SUCCESS(f"OCX (embedded) on http://{host}:{port}/ — Ctrl-C to stop"))
        config = uvicorn.Config(
            "ocx.asgi:application",
            host=host,
            port=port,
            lifespan="off",
            log_level="info",
            timeout_graceful_shutdown=settings.OCX_SHUTDOWN_GRACE_SECONDS,
        )
        try:
            uvicorn.Server(config).run()
        finally:
            self.stdout.write("stopping beat and worker…")
            beat.stop()
            worker.stop(in_sighandler=False)
            worker_thread.join(timeout=10)
            self.stdout.write("stopped.")
