"""What SSE and the WebSocket share: authenticate, subscribe, replay, dedupe.

Resume without loss: the subscriber joins the tenant's channel group FIRST, then replays the
missed events from the store (``id > last seen``, in id order), then forwards live pushes,
skipping any id already sent. An event committed while replaying is therefore either in the
replay or queued in the channel — never in neither — and never sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections import OrderedDict
from collections.abc import AsyncIterator

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from activity_feed.filters import EventFilters
from activity_feed.publish import tenant_group
from activity_feed.selectors import events_since, latest_event_id
from activity_feed.serializers import event_to_dict
from ocx.core import errors
from ocx.core.api.params import parse_int

logger = logging.getLogger(__name__)

REPLAY_CHUNK = 500
SENT_MEMORY = 20_000
# Put in a subscription's queue when the channel layer failed: the feed catches up from the
# store (channels-redis is at-most-once; the store is the truth).
RESYNC = "resync"


def keepalive_seconds() -> float:
    return float(settings.OCX_STREAM_KEEPALIVE_SECONDS)


def max_replay() -> int:
    return int(settings.OCX_STREAM_MAX_REPLAY)


def parse_last_id(value) -> int | None:
    if value in (None, ""):
        return None
    text = str(value).strip()
    try:
        return parse_int(text, name="cursor", minimum=0)
    except errors.ValidationError:
        raise errors.ValidationError("Last-Event-ID / cursor must be an event id.", details={"cursor": text}) from None


def _replay_chunk(tenant, after_id: int, filters: EventFilters) -> list[dict]:
    return [
        event_to_dict(e) for e in events_since(tenant=tenant, after_id=after_id, filters=filters, limit=REPLAY_CHUNK)
    ]


async def replay(tenant, after_id: int, filters: EventFilters) -> AsyncIterator[dict]:
    """Events after ``after_id`` from the store, oldest first (bounded by OCX_STREAM_MAX_REPLAY)."""
    sent = 0
    cursor = after_id
    while sent < max_replay():
        # database_sync_to_async returns the connection after each call: a stream lives for hours
        # and must not pin one of the pool's connections.
        chunk = await database_sync_to_async(_replay_chunk)(tenant, cursor, filters)
        for event in chunk:
            yield event
            cursor = event["id"]
            sent += 1
        if len(chunk) < REPLAY_CHUNK:
            return


QUEUE_LIMIT = 10_000


_encoded: OrderedDict[tuple[str, int], str] = OrderedDict()


def encoded(kind: str, event: dict, build) -> str:
    """``build(event)`` once per event and wire format in this process: hundreds of local
    subscribers receive the same bytes, so serialise them once (small LRU by id)."""
    key = (kind, event["id"])
    text = _encoded.get(key)
    if text is None:
        text = _encoded[key] = build(event)
        if len(_encoded) > 2048:
            _encoded.popitem(last=False)
    return text


class TenantHub:
    """One channel-layer subscription per (process event loop, tenant), shared by every live
    client of that tenant in this process.

    channels-redis delivers a group message to each member channel separately, and a process
    pops its channels' messages one Redis round trip at a time: with one channel per client,
    500 subscribers cost 500 round trips per event. The hub joins the group once and fans the
    message out in memory, so an event costs one round trip per *process*.
    """

    # Per event loop (a test, or a server worker): a hub never outlives its loop.
    hubs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def __init__(self, tenant_id: int):
        self.tenant_id = tenant_id
        self.group = tenant_group(tenant_id)
        self.layer = get_channel_layer()
        self.subscribers: set[Subscription] = set()
        self.channel: str | None = None
        self.ready = asyncio.Event()
        self._reader: asyncio.Task | None = None

    @classmethod
    async def join(cls, subscription: Subscription) -> TenantHub:
        hubs = cls.hubs.setdefault(asyncio.get_running_loop(), {})
        hub = hubs.get(subscription.tenant_id)
        if hub is None:
            hub = hubs[subscription.tenant_id] = cls(subscription.tenant_id)
            try:
                hub.channel = await hub.layer.new_channel()
                await hub.layer.group_add(hub.group, hub.channel)
            except BaseException:
                hubs.pop(subscription.tenant_id, None)
                hub.ready.set()
                raise
            hub._reader = asyncio.ensure_future(hub._read())
            hub.ready.set()
        else:
            await hub.ready.wait()
            if hub.channel is None:  # its creator failed: try again with a fresh hub
                return await cls.join(subscription)
        # Registered synchronously after the group membership exists: from here on, nothing
        # committed for the tenant can be missed by this subscriber.
        hub.subscribers.add(subscription)
        return hub

    async def leave(self, subscription: Subscription) -> None:
        self.subscribers.discard(subscription)
        if self.subscribers:
            return
        hubs = self.hubs.get(asyncio.get_running_loop(), {})
        if hubs.get(self.tenant_id) is self:
            del hubs[self.tenant_id]
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        with contextlib.suppress(Exception):
            await self.layer.group_discard(self.group, self.channel)

    async def _read(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - e.g. a Redis timeout: subscribers catch up from the store
                logger.warning("channel layer receive failed; live clients resync from the store", exc_info=True)
                for subscription in list(self.subscribers):
                    subscription.push(RESYNC)
                await asyncio.sleep(0.2)
                continue
            kind = message.get("type")
            if kind == "event.created":
                batch = [message["event"]]
            elif kind == "events.created":  # a bulk-ingested batch
                batch = message["events"]
            else:
                continue
            for subscription in list(self.subscribers):
                for event in batch:
                    subscription.push(event)


class Subscription:
    """A live client's queue of its tenant's events (fed by the process's ``TenantHub``)."""

    def __init__(self, tenant_id: int):
        self.tenant_id = tenant_id
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=QUEUE_LIMIT)
        self.overflowed = False
        self.hub: TenantHub | None = None

    async def __aenter__(self) -> Subscription:
        self.hub = await TenantHub.join(self)
        return self

    async def __aexit__(self, *exc) -> None:
        if self.hub is not None:
            await self.hub.leave(self)

    def push(self, item) -> None:
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            # A client too slow to keep up: drop, and let it catch up from the store.
            self.overflowed = True

    async def next(self, timeout: float) -> dict | str | None:
        """The next live event (or ``RESYNC``), or None after ``timeout`` s (keepalive time)."""
        if self.overflowed and self.queue.empty():
            self.overflowed = False
            return RESYNC
        try:
            return await asyncio.wait_for(self.queue.get(), timeout=timeout)
        except TimeoutError:
            return None


READY = "ready"


async def event_feed(*, tenant, filters: EventFilters, after_id: int | None) -> AsyncIterator[dict | str | None]:
    """Yield ``READY`` once subscribed, then missed events (when resuming), then live ones, each
    once and in order; ``None`` whenever ``keepalive_seconds()`` pass without an event."""
    async with Subscription(tenant.pk) as subscription:
        yield READY
        sent: OrderedDict[int, None] = OrderedDict()
        last = after_id if after_id is not None else await database_sync_to_async(latest_event_id)(tenant=tenant)

        def remember(event_id: int) -> None:
            nonlocal last
            sent[event_id] = None
            if len(sent) > SENT_MEMORY:
                sent.popitem(last=False)
            last = max(last, event_id)

        if after_id is not None:
            async for event in replay(tenant, after_id, filters):
                remember(event["id"])
                yield event
        while True:
            event = await subscription.next(keepalive_seconds())
            if event is None:
                yield None
                continue
            if event == RESYNC:
                async for missed in replay(tenant, last, filters):
                    if missed["id"] not in sent:
                        remember(missed["id"])
                        yield missed
                continue
            if event["id"] in sent or not filters.matches(event):
                continue
            remember(event["id"])
            yield event
