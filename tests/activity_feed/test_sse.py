"""SSE at /api/v1/events/stream: auth, tenant isolation, filters, keepalive, resume without loss."""

import asyncio
import json

import pytest
from channels.db import database_sync_to_async
from django.test import AsyncClient

from tests.activity_feed.factories import publish_committed, publish_many
from tests.factories import token_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


class Stream:
    """Reads SSE frames off a streaming response."""

    def __init__(self, response):
        self.response = response
        self.iterator = response.streaming_content.__aiter__()
        self.buffer = ""

    async def frame(self, timeout=3) -> str:
        while "\n\n" not in self.buffer:
            chunk = await asyncio.wait_for(self.iterator.__anext__(), timeout=timeout)
            self.buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        frame, self.buffer = self.buffer.split("\n\n", 1)
        return frame

    async def event(self, timeout=3) -> dict:
        while True:
            frame = await self.frame(timeout)
            data = [line[6:] for line in frame.splitlines() if line.startswith("data: ")]
            if data:
                ident = next(line[4:] for line in frame.splitlines() if line.startswith("id: "))
                body = json.loads(data[0])
                assert body["action"] == "created"
                assert int(ident) == body["event"]["id"]
                return body["event"]

    async def close(self):
        await self.iterator.aclose()


async def open_stream(user, query="", headers=None) -> Stream:
    token = await database_sync_to_async(token_for)(user)
    response = await AsyncClient().get(f"/api/v1/events/stream?token={token}{query}", headers=headers or {})
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    stream = Stream(response)
    assert "connected" in await stream.frame()
    return stream


async def test_stream_delivers_its_tenants_events_only(member_user, tenant, other_tenant):
    stream = await open_stream(member_user)

    await publish_committed(other_tenant, "globex secret")
    mine = await publish_committed(tenant, "acme news")

    received = await stream.event()
    assert (received["id"], received["title"], received["tenant_id"]) == (mine.pk, "acme news", "acme-corp")
    await stream.close()


async def test_stream_applies_the_list_filters(member_user, tenant):
    stream = await open_stream(member_user, "&priority=critical&types=ops.alert.raised")

    await publish_committed(tenant, "normal noise", type="ops.alert.raised")
    await publish_committed(tenant, "other type", type="ops.alert.cleared", priority="critical")
    wanted = await publish_committed(tenant, "fire", type="ops.alert.raised", priority="critical")

    assert (await stream.event())["id"] == wanted.pk
    await stream.close()


async def test_stream_sends_keepalive_comments(settings, member_user):
    settings.OCX_STREAM_KEEPALIVE_SECONDS = 0.05
    stream = await open_stream(member_user)

    assert await stream.frame() == ": keepalive"
    await stream.close()


async def test_reconnect_with_last_event_id_delivers_exactly_the_100_missed_events(member_user, tenant):
    # given: a client saw event `seen`, then was away while 100 events were published
    seen = await publish_committed(tenant, "seen")
    missed = await publish_many(tenant, 100)

    # when: it reconnects with Last-Event-ID, and a new event is published meanwhile
    stream = await open_stream(member_user, headers={"Last-Event-ID": str(seen.pk)})
    received = [(await stream.event())["id"] for _ in range(100)]
    live = await publish_committed(tenant, "live after resume")

    # then: exactly the missed ones, in order, then the live one, nothing twice
    assert received == [e.pk for e in missed]
    assert (await stream.event())["id"] == live.pk
    await stream.close()


async def test_events_committed_during_replay_are_not_lost_or_doubled(member_user, tenant):
    seen = await publish_committed(tenant, "seen")
    await publish_many(tenant, 5, prefix="before")

    stream = await open_stream(member_user, f"&last_event_id={seen.pk}")
    during = await publish_many(tenant, 3, prefix="during")
    received = [(await stream.event())["id"] for _ in range(8)]

    assert len(set(received)) == 8
    assert received[-3:] == [e.pk for e in during]
    with pytest.raises(TimeoutError):
        await stream.event(timeout=0.3)
    await stream.close()


async def test_stream_refuses_anonymous_and_foreign_tenants(member_user, other_tenant):
    anonymous = await AsyncClient().get("/api/v1/events/stream")
    token = await database_sync_to_async(token_for)(member_user)
    foreign = await AsyncClient().get(f"/api/v1/events/stream?token={token}", headers={"X-Tenant": "globex"})
    bad_cursor = await AsyncClient().get(f"/api/v1/events/stream?token={token}", headers={"Last-Event-ID": "abc"})

    assert anonymous.status_code == 401
    assert anonymous.json()["error_code"] == "NOT_AUTHENTICATED"
    assert foreign.status_code == 403
    assert bad_cursor.status_code == 400


async def test_stream_accepts_the_authorization_header(member_user, tenant):
    token = await database_sync_to_async(token_for)(member_user)
    response = await AsyncClient().get("/api/v1/events/stream", headers={"Authorization": f"Token {token}"})

    assert response.status_code == 200
    await response.streaming_content.__aiter__().aclose()


async def test_stream_accepts_the_session_cookie(member_user, tenant):
    client = AsyncClient()
    await client.aforce_login(member_user)

    response = await client.get("/api/v1/events/stream")
    stream = Stream(response)

    assert response.status_code == 200
    assert "connected" in await stream.frame()
    mine = await publish_committed(tenant, "via session")
    assert (await stream.event())["id"] == mine.pk
    await stream.close()
