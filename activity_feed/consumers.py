"""Live push over WebSocket: a client receives its own tenant's events and nobody else's.

``/ws/events/`` — authenticated by session or token; ``?tenant=<slug>`` picks a tenant; the
list's filters apply (``?types=…&priority=…``). Resume without loss with ``?cursor=<last event
id>`` or a ``{"type": "resume", "cursor": <id>}`` message: missed events are replayed from the
store before live ones, in order, without duplicates. ``{"type": "keepalive"}`` every 30 s.

Live events come from the process's ``live.TenantHub`` (one channel-layer subscription per
process and tenant) rather than a group membership per socket: see ``live.py`` for why.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import OrderedDict
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.http import QueryDict

from activity_feed import live
from activity_feed.filters import EventFilters
from ocx.core import errors
from ocx.core.tenancy import resolve_tenant


def _live_frame(event: dict) -> str:
    return json.dumps({"type": "event", "event": event})


class EventStreamConsumer(AsyncJsonWebsocketConsumer):
    subscription: live.Subscription | None = None
    tasks: list[asyncio.Task]

    async def connect(self):
        self.tasks = []
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        query = QueryDict(self.scope.get("query_string", b"").decode())
        try:
            tenant = await self._resolve_tenant(user)
        except errors.PermissionDenied:
            await self.close(code=4403)
            return
        try:
            self.filters = EventFilters.from_params(query)
            cursor = live.parse_last_id(query.get("cursor") or query.get("last_event_id"))
        except errors.ValidationError:
            await self.close(code=4400)
            return
        self.tenant = tenant
        # Ids already sent on this connection (bounded): a replay or a late live push of one
        # of them is skipped, so a client never sees an event twice.
        self.sent: OrderedDict[int, None] = OrderedDict()
        self.last_id = 0
        # Held while replaying, so live events wait and arrive after the replayed ones.
        self.order = asyncio.Lock()
        # Subscribe before any replay, so nothing committed meanwhile is missed.
        self.subscription = live.Subscription(tenant.pk)
        await self.subscription.__aenter__()
        await self.accept()
        await self.send_json({"type": "welcome", "tenant_id": tenant.slug})
        self.tasks.append(asyncio.ensure_future(self._keepalive()))
        if cursor is not None:
            async with self.order:
                self.tasks.append(asyncio.ensure_future(self._forward_live()))
                await self._replay(cursor)
        else:
            self.last_id = await database_sync_to_async(live.latest_event_id)(tenant=tenant)
            self.tasks.append(asyncio.ensure_future(self._forward_live()))

    @database_sync_to_async
    def _resolve_tenant(self, user):
        query = parse_qs(self.scope.get("query_string", b"").decode())
        return resolve_tenant(user, (query.get("tenant") or [""])[0])

    async def _replay(self, cursor: int) -> None:
        count = 0
        async for event in live.replay(self.tenant, cursor, self.filters):
            if await self._send_event(event, replayed=True):
                count += 1
        await self.send_json({"type": "resumed", "cursor": cursor, "replayed": count})

    async def _send_event(self, event: dict, replayed: bool = False) -> bool:
        if event["id"] in self.sent:
            return False
        self.sent[event["id"]] = None
        if len(self.sent) > live.SENT_MEMORY:
            self.sent.popitem(last=False)
        self.last_id = max(self.last_id, event["id"])
        if replayed:
            await self.send_json({"type": "event", "event": event, "replayed": True})
        else:
            await self.send(text_data=live.encoded("ws", event, _live_frame))
        return True

    async def _forward_live(self) -> None:
        while True:
            item = await self.subscription.next(timeout=3600)
            if item is None:
                continue
            async with self.order:
                if item == live.RESYNC:
                    async for event in live.replay(self.tenant, self.last_id, self.filters):
                        await self._send_event(event, replayed=True)
                elif self.filters.matches(item):
                    await self._send_event(item)

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(live.keepalive_seconds())
            await self.send_json({"type": "keepalive"})

    async def disconnect(self, code):
        for task in getattr(self, "tasks", []):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.subscription is not None:
            await self.subscription.__aexit__(None, None, None)
            self.subscription = None

    async def receive_json(self, content, **kwargs):
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind == "resume":
            try:
                cursor = live.parse_last_id(content.get("cursor"))
            except errors.ValidationError as exc:
                await self.send_json({"type": "error", "error_code": exc.error_code, "message": exc.message})
                return
            if cursor is not None:
                async with self.order:
                    await self._replay(cursor)
