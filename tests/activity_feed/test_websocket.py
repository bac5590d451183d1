"""/ws/events/: filters, keepalive, resume with a cursor (no loss, no duplicates), isolation;
and channels-redis delivering across separate layers (processes) in distributed mode."""

import asyncio
import os

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from ocx.asgi import application
from tests.activity_feed.factories import publish_committed, publish_many
from tests.factories import token_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def connect(user, query=""):
    token = await database_sync_to_async(token_for)(user)
    communicator = WebsocketCommunicator(
        application, f"/ws/events/?token={token}{query}", headers=[(b"host", b"testserver")]
    )
    connected, code = await communicator.connect()
    assert connected, code
    assert (await communicator.receive_json_from())["type"] == "welcome"
    return communicator


async def next_of(communicator, kind, timeout=3):
    while True:
        message = await communicator.receive_json_from(timeout=timeout)
        if message["type"] == kind:
            return message


async def test_filters_apply_to_the_websocket(member_user, tenant):
    ws = await connect(member_user, "&types=ops.alert.raised&tags=pager")

    await publish_committed(tenant, "untagged", type="ops.alert.raised")
    wanted = await publish_committed(tenant, "tagged", type="ops.alert.raised", tags=["pager"])

    assert (await next_of(ws, "event"))["event"]["id"] == wanted.pk
    await ws.disconnect()


async def test_keepalive_messages(settings, member_user):
    settings.OCX_STREAM_KEEPALIVE_SECONDS = 0.05
    ws = await connect(member_user)

    assert await ws.receive_json_from(timeout=2) == {"type": "keepalive"}
    await ws.disconnect()


async def test_resume_with_cursor_replays_the_missed_events_then_live(member_user, tenant):
    seen = await publish_committed(tenant, "seen")
    missed = await publish_many(tenant, 100)

    ws = await connect(member_user, f"&cursor={seen.pk}")
    replayed = [(await next_of(ws, "event"))["event"]["id"] for _ in range(100)]
    resumed = await next_of(ws, "resumed")
    live = await publish_committed(tenant, "live")

    assert replayed == [e.pk for e in missed]
    assert resumed["replayed"] == 100
    assert (await next_of(ws, "event"))["event"]["id"] == live.pk
    assert await ws.receive_nothing(timeout=0.2)
    await ws.disconnect()


async def test_resume_message_replays_and_never_duplicates(member_user, tenant):
    seen = await publish_committed(tenant, "seen")
    ws = await connect(member_user)
    during = await publish_many(tenant, 3, prefix="during")  # live-pushed while connected

    await ws.send_json_to({"type": "resume", "cursor": seen.pk})
    messages = []
    while True:
        message = await ws.receive_json_from(timeout=3)
        if message["type"] == "resumed":
            break
        messages.append(message["event"]["id"])
    await asyncio.sleep(0.2)
    while not await ws.receive_nothing(timeout=0.2):
        messages.append((await ws.receive_json_from())["event"]["id"])

    # each of the three arrives exactly once: live, and the replay skips what was already sent
    assert messages == [e.pk for e in during]
    await ws.disconnect()


async def test_resume_never_replays_another_tenants_events(member_user, tenant, other_tenant):
    seen = await publish_committed(tenant, "seen")
    await publish_committed(other_tenant, "globex secret")
    mine = await publish_committed(tenant, "acme after")

    ws = await connect(member_user, f"&cursor={seen.pk}")

    assert (await next_of(ws, "event"))["event"]["id"] == mine.pk
    assert (await next_of(ws, "resumed"))["replayed"] == 1
    await ws.disconnect()


async def test_bad_cursor_or_filter_closes_with_4400(member_user):
    token = await database_sync_to_async(token_for)(member_user)
    ws = WebsocketCommunicator(
        application, f"/ws/events/?token={token}&priority=urgent", headers=[(b"host", b"testserver")]
    )

    connected, code = await ws.connect()

    assert (connected, code) == (False, 4400)


@pytest.mark.redis
async def test_channels_redis_delivers_across_separate_layers():
    """Two layer instances stand for two processes: a web worker subscribed in one receives
    what a Celery worker publishes in the other."""
    from channels_redis.core import RedisChannelLayer

    url = os.environ["REDIS_URL"]
    subscriber, publisher = RedisChannelLayer(hosts=[url]), RedisChannelLayer(hosts=[url])
    channel = await subscriber.new_channel()
    await subscriber.group_add("tenant.test-cross-process", channel)
    try:
        await publisher.group_send("tenant.test-cross-process", {"type": "event.created", "event": {"id": 1}})
        message = await asyncio.wait_for(subscriber.receive(channel), timeout=5)
    finally:
        await subscriber.group_discard("tenant.test-cross-process", channel)
        await subscriber.flush()

    assert message == {"type": "event.created", "event": {"id": 1}}


@pytest.mark.redis
async def test_websocket_receives_a_commit_through_redis(member_user, tenant):
    from channels.layers import get_channel_layer

    if "Redis" not in type(get_channel_layer()).__name__:
        pytest.skip("channel layer is not channels-redis (REDIS_URL unset)")
    ws = await connect(member_user)

    event = await publish_committed(tenant, "through redis")

    assert (await next_of(ws, "event", timeout=5))["event"]["id"] == event.pk
    await ws.disconnect()


async def test_a_bulk_ingested_batch_reaches_subscribers_once_each(member_user, tenant, other_admin, other_tenant):
    from activity_feed.services import Draft, events_bulk_create

    ws = await connect(member_user)
    foreign = await connect(other_admin)

    @database_sync_to_async
    def ingest():
        drafts = [Draft(type="stripe.invoice.paid", idempotency_key=f"b{i}", entity_id=str(i)) for i in range(20)]
        return events_bulk_create(tenant=tenant, drafts=drafts)

    result = await ingest()
    received = [(await next_of(ws, "event"))["event"]["id"] for _ in range(20)]

    assert received == sorted(result.event_ids)
    assert await ws.receive_nothing(timeout=0.2)
    assert await foreign.receive_nothing(timeout=0.2)
    await ws.disconnect()
    await foreign.disconnect()
