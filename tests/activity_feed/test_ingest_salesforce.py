"""Salesforce ingestion: CDC change events and Platform Events, deduplicated by uuid / replay id."""

import json
import time

import pytest

from activity_feed.ingest.signatures import standard_webhook_sign
from activity_feed.models import ActivityEvent
from tests.factories import member

pytestmark = pytest.mark.django_db

CDC = {
    "channel": "/data/AccountChangeEvent",
    "data": {
        "schema": "IeRuaY6cbI_HsV8Rv1Mc5g",
        "payload": {
            "ChangeEventHeader": {
                "entityName": "Account", "recordIds": ["001RM000003QSA3YAO"], "changeType": "CREATE",
                "changeOrigin": "com/salesforce/api/soap/51.0;client=SfdcInternalAPI/", "transactionKey": "0002343d-9d90-e395-ed20-cf416ba652ad",
                "sequenceNumber": 1, "commitTimestamp": 1569443783000, "commitNumber": 10969661964, "commitUser": "005RM000001vI54YAE",
            },
            "Name": "Acme Corporation",
            "Industry": "Manufacturing",
        },
        "event": {"replayId": 6, "EventUuid": "b1d2a8c1-7f6e-4b7a-9c7d-0c5f1e2a3b4c"},
    },
}  # fmt: skip

PLATFORM_EVENT = {
    "channel": "/event/Order_Shipped__e",
    "data": {
        "schema": "dffQ2QLzDNHqwB8_sHMxdA",
        "payload": {
            "CreatedDate": "2026-11-20T10:00:00.000Z",
            "CreatedById": "005RM000001vI54YAE",
            "Order_Number__c": "ORD-42",
        },
        "event": {"replayId": 18},
    },
}


def post_salesforce(client, source, payload, *, msg_id="sf-1"):
    body = json.dumps(payload).encode()
    stamp = int(time.time())
    return client.post(
        f"/api/v1/ingest/salesforce?source={source.key}",
        data=body,
        content_type="application/json",
        headers={
            "webhook-id": msg_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": standard_webhook_sign(secret=source.secret, msg_id=msg_id, timestamp=stamp, body=body),
        },
    )


def test_a_cdc_event_becomes_an_account_event(client, salesforce_source, tenant):
    response = post_salesforce(client, salesforce_source, CDC)

    assert response.status_code == 200, response.content
    stored = ActivityEvent.objects.for_tenant(tenant).get()
    assert (stored.type, stored.source, stored.title) == (
        "salesforce.account.create",
        "salesforce",
        "Salesforce account created: Acme Corporation",
    )
    assert (stored.entity_type, stored.entity_id) == ("account", "001RM000003QSA3YAO")
    assert stored.idempotency_key == "salesforce:uuid:b1d2a8c1-7f6e-4b7a-9c7d-0c5f1e2a3b4c"
    assert stored.correlation_id == "0002343d-9d90-e395-ed20-cf416ba652ad"
    assert stored.timestamp.isoformat() == "2019-09-25T20:36:23+00:00"


def test_a_platform_event_is_keyed_by_its_replay_id(client, salesforce_source, tenant):
    post_salesforce(client, salesforce_source, PLATFORM_EVENT)
    retry = post_salesforce(client, salesforce_source, PLATFORM_EVENT, msg_id="sf-2")

    stored = ActivityEvent.objects.for_tenant(tenant).get()
    assert stored.type == "salesforce.event.order_shipped"
    assert stored.idempotency_key == "salesforce:replay:/event/Order_Shipped__e:18"
    assert retry.json()["duplicates"] == 1


def test_a_bulk_change_makes_one_event_per_record(client, salesforce_source, tenant):
    bulk = json.loads(json.dumps(CDC))
    bulk["data"]["payload"]["ChangeEventHeader"]["recordIds"] = ["001A", "001B", "001C"]
    bulk["data"]["payload"]["ChangeEventHeader"]["changeType"] = "UPDATE"

    post_salesforce(client, salesforce_source, [bulk])

    assert sorted(ActivityEvent.objects.for_tenant(tenant).values_list("entity_id", flat=True)) == [
        "001A",
        "001B",
        "001C",
    ]


def test_bare_pubsub_payloads_and_event_lists_are_accepted(client, salesforce_source, tenant):
    bare = {"ChangeEventHeader": {**CDC["data"]["payload"]["ChangeEventHeader"], "changeType": "DELETE"}}

    response = post_salesforce(client, salesforce_source, {"events": [bare]})

    assert response.status_code == 200
    assert ActivityEvent.objects.for_tenant(tenant).get().type == "salesforce.account.delete"


def test_an_ocx_token_can_deliver_without_a_source(member_api, tenant):
    response = member_api.post("/api/v1/ingest/salesforce", CDC, format="json")

    assert response.status_code == 200
    assert ActivityEvent.objects.for_tenant(tenant).count() == 1


def test_a_viewer_token_cannot_deliver(api_client_for, tenant):
    viewer = member(tenant, role="viewer", username="sf-viewer")

    assert api_client_for(viewer).post("/api/v1/ingest/salesforce", CDC, format="json").status_code == 403


def test_unsigned_anonymous_delivery_is_401(client):
    response = client.post("/api/v1/ingest/salesforce", data=json.dumps(CDC), content_type="application/json")

    assert response.status_code == 401


def test_bad_signature_is_401(client, salesforce_source, tenant):
    response = client.post(
        f"/api/v1/ingest/salesforce?source={salesforce_source.key}",
        data=json.dumps(CDC),
        content_type="application/json",
        headers={"webhook-id": "x", "webhook-timestamp": str(int(time.time())), "webhook-signature": "v1,AAAA"},
    )

    assert response.status_code == 401
    assert not ActivityEvent.objects.for_tenant(tenant).exists()


@pytest.mark.parametrize(
    "payload",
    [
        [],
        [CDC, {"data": {"payload": {"ChangeEventHeader": {"entityName": "Account"}}}}],
        [CDC, {"data": {"payload": {"Foo": 1}, "event": {}}}],
        {"ChangeEventHeader": "nope"},
    ],
)
def test_malformed_batches_are_400_and_store_nothing(client, salesforce_source, tenant, payload):
    response = post_salesforce(client, salesforce_source, payload)

    assert response.status_code == 400
    assert not ActivityEvent.objects.for_tenant(tenant).exists()
