"""Django's ASGI handler, with the middleware chain and a sync view run in ONE worker thread.

Django's own ``ASGIHandler`` builds the middleware chain in async mode. With the synchronous
middleware every project has (sessions, CSRF, auth, WhiteNoise, Prometheus, OCX's audit context)
and synchronous DRF views, each request then crosses between the event loop and a worker thread
about nine times (the chain, each ``process_view``, the view, template-response middleware, the
render). Each crossing is a thread wake-up and a GIL hand-off: ~3.5 ms of a request on a small
machine, more than most of OCX's endpoints spend on their own work.

This handler builds the chain in sync mode and runs ``get_response`` - chain, view, render - in a
single ``sync_to_async`` call: one crossing instead of nine. An ``async def`` view still works:
Django runs it with ``async_to_sync`` on the server's event loop, and a streaming response with
an async iterator (the SSE stream) is iterated there as before. WebSockets do not come here.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIHandler


class SyncChainASGIHandler(ASGIHandler):
    def load_middleware(self, is_async=False):
        super().load_middleware(is_async=False)

    async def get_response_async(self, request):
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)
