"""Live push over WebSocket: a client receives its own tenant's events and nobody else's."""

from __future__ import annotations

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from ocx import errors
from ocx.events import tenant_group
from ocx.tenancy import resolve_tenant


class EventStreamConsumer(AsyncJsonWebsocketConsumer):
    """``/ws/events/`` — authenticated by session or token; ``?tenant=<slug>`` picks a tenant."""

    group: str | None = None

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)
            return
        try:
            tenant = await self._resolve_tenant(user)
        except errors.PermissionDenied:
            await self.close(code=4403)
            return
        self.tenant = tenant
        self.group = tenant_group(tenant.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "welcome", "tenant_id": tenant.slug})

    @database_sync_to_async
    def _resolve_tenant(self, user):
        query = parse_qs(self.scope.get("query_string", b"").decode())
        return resolve_tenant(user, (query.get("tenant") or [""])[0])

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def event_created(self, message):
        await self.send_json({"type": "event", "event": message["event"]})
