"""Live push off the request path.

Pushing a committed event to the tenant's channel group from synchronous code with
``async_to_sync(layer.group_send)`` starts an event loop per call (and, with channels-redis, a
connection pool per loop): ~9 ms spent inside every request that publishes. Instead each
process keeps ONE daemon thread with ONE long-lived event loop that sends, in order, whatever
the request threads hand it through a queue. The request only enqueues (microseconds).

Delivery stays best effort, as before: a push that fails is logged, and clients catch up from
the store on reconnect (``Last-Event-ID`` / cursor). ``flush()`` waits until everything handed
over so far has been sent; tests and shutdown use it.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import queue
import threading

logger = logging.getLogger(__name__)

_STOP = object()


class LivePusher:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None

    def _ensure_started(self) -> queue.Queue:
        pid = os.getpid()
        if self._pid == pid and self._thread is not None and self._thread.is_alive():
            return self._queue
        with self._lock:
            # A forked child (Celery prefork, uvicorn workers) inherits no running thread.
            if self._pid != pid or self._thread is None or not self._thread.is_alive():
                self._queue = queue.Queue()
                self._thread = threading.Thread(
                    target=self._run, args=(self._queue,), name="ocx-live-push", daemon=True
                )
                self._pid = pid
                self._thread.start()
        return self._queue

    def submit(self, group: str, message: dict) -> None:
        self._ensure_started().put((group, message))

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every message submitted so far is sent; False on timeout."""
        if self._pid != os.getpid() or self._queue is None:
            return True
        done = threading.Event()
        self._queue.put(done)
        return done.wait(timeout)

    def _run(self, work: queue.Queue) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            while True:
                item = work.get()
                if item is _STOP:
                    return
                if isinstance(item, threading.Event):
                    item.set()
                    continue
                group, message = item
                try:
                    loop.run_until_complete(_send(group, message))
                except Exception:  # noqa: BLE001 - best effort; clients catch up from the store
                    logger.exception("live push to %s failed", group)
        finally:
            loop.close()


async def _send(group: str, message: dict) -> None:
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is not None:
        await layer.group_send(group, message)


pusher = LivePusher()
atexit.register(lambda: pusher.flush(timeout=2.0))
