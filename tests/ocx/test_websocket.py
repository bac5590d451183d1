"""/ws/events/ streams the connected user's tenant events, and only those."""

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import transaction

from activity_feed.publish import publish
from ocx.asgi import application
from tests.factories import token_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@database_sync_to_async
def publish_committed(tenant, title):
    # on_commit callbacks run when the outer atomic block commits (transactional test DB).
    with transaction.atomic():
        return publish(tenant=tenant, type="test.thing.happened", title=title)


async def connect(user, query=""):
    token = await database_sync_to_async(token_for)(user)
    communicator = WebsocketCommunicator(
        application, f"/ws/events/?token={token}{query}", headers=[(b"host", b"testserver")]
    )
    connected, _ = await communicator.connect()
    return communicator, connected


async def next_event(communicator, timeout=3):
    while True:
        message = await communicator.receive_json_from(timeout=timeout)
        if message["type"] == "event":
            return message["event"]


async def test_websocket_receives_its_tenants_events(member_user, tenant):
    communicator, connected = await connect(member_user)
    assert connected
    welcome = await communicator.receive_json_from()
    assert welcome == {"type": "welcome", "tenant_id": "acme-corp"}

    event = await publish_committed(tenant, "hello acme")

    received = await next_event(communicator)
    assert received["id"] == event.pk
    assert received["title"] == "hello acme"
    assert received["tenant_id"] == "acme-corp"
    await communicator.disconnect()


async def test_websocket_never_receives_another_tenants_events(member_user, other_admin, tenant, other_tenant):
    acme, _ = await connect(member_user)
    globex, _ = await connect(other_admin)
    await acme.receive_json_from()
    await globex.receive_json_from()

    await publish_committed(other_tenant, "globex secret")
    mine = await publish_committed(tenant, "acme news")

    assert (await next_event(globex))["title"] == "globex secret"
    assert (await next_event(acme))["id"] == mine.pk  # the globex event never came first
    assert await acme.receive_nothing(timeout=0.3)
    await acme.disconnect()
    await globex.disconnect()


async def test_websocket_refuses_anonymous_clients(db):
    communicator = WebsocketCommunicator(application, "/ws/events/", headers=[(b"host", b"testserver")])

    connected, code = await communicator.connect()

    assert not connected
    assert code == 4401


async def test_websocket_refuses_a_tenant_the_user_is_not_in(member_user, other_tenant):
    communicator, connected = await connect(member_user, "&tenant=globex")

    assert not connected


async def test_websocket_answers_ping(member_user):
    communicator, _ = await connect(member_user)
    await communicator.receive_json_from()

    await communicator.send_json_to({"type": "ping"})

    assert await communicator.receive_json_from() == {"type": "pong"}
    await communicator.disconnect()
    await asyncio.sleep(0)
