"""Cross-tenant probe of the live channels: a client of tenant B that names tenant A
(``?tenant=``) is refused, and one that resumes from a cursor older than A's events (by query or
by a ``resume`` message, WebSocket and SSE alike) gets B's events only."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import AsyncClient

from ocx.asgi import application
from tests.activity_feed.factories import publish_committed, publish_many
from tests.activity_feed.test_sse import Stream
from tests.factories import token_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture
async def history(tenant, other_tenant):
    """Events of A before and after one event of B: a cursor of 0 or of A's first event spans both."""
    a_before = await publish_many(tenant, 3, prefix="acme secret")
    b_event = await publish_committed(other_tenant, "globex news")
    a_after = await publish_many(tenant, 2, prefix="acme later")
    return {"a": [e.pk for e in a_before + a_after], "b": b_event.pk, "first_a": a_before[0].pk}


async def _ws(user, query=""):
    token = await database_sync_to_async(token_for)(user)
    communicator = WebsocketCommunicator(
        application, f"/ws/events/?token={token}{query}", headers=[(b"host", b"testserver")]
    )
    connected, code = await communicator.connect()
    return communicator, connected, code


async def _replayed(communicator) -> tuple[list[dict], dict]:
    events = []
    while True:
        message = await communicator.receive_json_from(timeout=3)
        if message["type"] == "event":
            events.append(message["event"])
        elif message["type"] == "resumed":
            return events, message


@pytest.mark.parametrize("tenant_param", ["acme-corp", "ACME-CORP", " acme-corp", "1"])
async def test_websocket_naming_another_tenant_is_refused(history, other_admin, tenant_param):
    communicator, connected, _ = await _ws(other_admin, f"&tenant={tenant_param}")

    assert not connected


@pytest.mark.parametrize("cursor", ["0", "first_a"])
async def test_websocket_resume_from_an_old_cursor_replays_own_events_only(history, other_admin, cursor):
    value = history["first_a"] - 1 if cursor == "first_a" else 0
    communicator, connected, _ = await _ws(other_admin, f"&cursor={value}")
    assert connected
    assert (await communicator.receive_json_from())["tenant_id"] == "globex"

    events, resumed = await _replayed(communicator)

    assert [e["id"] for e in events] == [history["b"]] and resumed["replayed"] == 1
    assert all(e["tenant_id"] == "globex" for e in events)
    await communicator.disconnect()


async def test_websocket_resume_message_replays_own_events_only(history, other_admin):
    communicator, connected, _ = await _ws(other_admin)
    assert connected
    await communicator.receive_json_from()

    await communicator.send_json_to({"type": "resume", "cursor": 0})
    events, resumed = await _replayed(communicator)

    assert [e["id"] for e in events] == [history["b"]] and resumed["replayed"] == 1
    await communicator.disconnect()


async def _sse(user, query="", headers=None):
    token = await database_sync_to_async(token_for)(user)
    return await AsyncClient().get(f"/api/v1/events/stream?token={token}{query}", headers=headers or {})


@pytest.mark.parametrize(
    ("query", "headers"),
    [("&tenant=acme-corp", None), ("", {"X-Tenant": "acme-corp"}), ("&tenant=globex", {"X-Tenant": "acme-corp"})],
)
async def test_sse_naming_another_tenant_is_refused(history, other_admin, query, headers):
    response = await _sse(other_admin, query, headers)

    assert response.status_code in (403, 404)
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ("&cursor=0", None),
        ("&cursor=0&tenant=acme-corp", {"X-Tenant": "globex"}),
        ("&last_event_id=0", None),
        ("", {"Last-Event-ID": "0"}),
    ],
)
async def test_sse_resume_from_an_old_cursor_replays_own_events_only(history, other_admin, query, headers):
    # (with both, the header names the tenant: B's own, whatever the query says)
    response = await _sse(other_admin, query, headers)
    assert response.status_code == 200
    stream = Stream(response)
    assert "connected" in await stream.frame()

    replayed = await stream.event()

    assert replayed["id"] == history["b"] and replayed["tenant_id"] == "globex"
    with pytest.raises(TimeoutError):  # nothing of A follows
        await stream.event(timeout=0.5)
    await stream.close()
