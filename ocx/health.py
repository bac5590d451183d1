"""``/health``: the state of the database, the broker and the channel layer (503 if one is down)."""

from __future__ import annotations

import time
import uuid

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET


def check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"vendor": connection.vendor}


def check_broker() -> dict:
    from ocx.celery import app

    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
        return {"transport": conn.transport_cls if isinstance(conn.transport_cls, str) else conn.transport.driver_type}


def check_channel_layer() -> dict:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")

    async def roundtrip():
        channel = await layer.new_channel("health.")
        marker = uuid.uuid4().hex
        await layer.send(channel, {"type": "health.ping", "marker": marker})
        message = await layer.receive(channel)
        if message.get("marker") != marker:
            raise RuntimeError("channel layer returned a different message")

    async_to_sync(roundtrip)()
    return {"backend": type(layer).__name__}


CHECKS = {"database": check_database, "broker": check_broker, "channel_layer": check_channel_layer}


@require_GET
def health(request):
    components = {}
    healthy = True
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            info = check()
            components[name] = {"status": "up", **info}
        except Exception as exc:  # noqa: BLE001 - reported as "down", that is the point of a health check
            healthy = False
            components[name] = {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:300]}
        components[name]["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
    body = {"status": "ok" if healthy else "unavailable", "mode": settings.OCX_MODE, "components": components}
    return JsonResponse(body, status=200 if healthy else 503)
