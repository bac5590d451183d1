"""HubSpot ingestion: the v3 signature (HubSpot's reference vector), 5-minute window, batches."""

import json
import time

import pytest

from activity_feed.ingest.signatures import SignatureError, hubspot_uri, hubspot_v3_sign, hubspot_v3_verify
from activity_feed.models import ActivityEvent

pytestmark = pytest.mark.django_db

# HubSpot's published test data (hubspot-api-python, tests/spec/utils/test_signature.py).
REF = {
    "secret": "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy",
    "body": b"{'example_field':'example_value'}",
    "uri": "https://www.example.com/webhook_uri",
    "method": "POST",
    "timestamp": "15000000",
    "signature": "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw=",
}

# The sample delivery from HubSpot's webhook documentation.
DELIVERY = [
    {"eventId": 1, "subscriptionId": 12345, "portalId": 62515, "occurredAt": 1564113600000,
     "subscriptionType": "contact.creation", "attemptNumber": 0, "objectId": 123, "changeSource": "CRM",
     "changeFlag": "NEW", "appId": 54321},
    {"eventId": 2, "subscriptionId": 12346, "portalId": 62515, "occurredAt": 1564113600500,
     "subscriptionType": "contact.propertyChange", "attemptNumber": 0, "objectId": 123, "propertyName": "email",
     "propertyValue": "new@example.com", "changeSource": "CRM", "appId": 54321},
]  # fmt: skip


def post_hubspot(client, source, payload, *, secret=None, timestamp=None, signature=None, raw=None):
    body = raw if raw is not None else json.dumps(payload).encode()
    stamp = str(int(time.time() * 1000)) if timestamp is None else str(timestamp)
    uri = f"http://testserver/api/v1/ingest/hubspot?source={source.key}"
    signature = signature or hubspot_v3_sign(
        secret=secret or source.secret, method="POST", uri=uri, body=body, timestamp=stamp
    )
    return client.post(
        f"/api/v1/ingest/hubspot?source={source.key}",
        data=body,
        content_type="application/json",
        headers={"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": stamp},
    )


def test_signing_reproduces_hubspots_reference_vector():
    signed = hubspot_v3_sign(
        secret=REF["secret"], method=REF["method"], uri=REF["uri"], body=REF["body"], timestamp=REF["timestamp"]
    )

    assert signed == REF["signature"]


def test_reference_vector_verifies_within_five_minutes():
    hubspot_v3_verify(
        secrets=[REF["secret"]], method="POST", uri=REF["uri"], body=REF["body"], timestamp=REF["timestamp"],
        signature=REF["signature"], now=15000 + 299,
    )  # fmt: skip
    with pytest.raises(SignatureError):
        hubspot_v3_verify(
            secrets=[REF["secret"]], method="POST", uri=REF["uri"], body=REF["body"], timestamp=REF["timestamp"],
            signature=REF["signature"], now=15000 + 301,
        )  # fmt: skip


def test_hubspot_decodes_the_documented_characters_in_the_uri():
    assert hubspot_uri("https://x.test/hook%3Fa%3Db%2Cc%40d") == "https://x.test/hook?a%3Db,c@d"


def test_a_delivery_becomes_events_with_readable_titles(client, hubspot_source, tenant):
    response = post_hubspot(client, hubspot_source, DELIVERY)

    assert response.status_code == 200, response.content
    assert response.json()["created"] == 2
    created, changed = ActivityEvent.objects.for_tenant(tenant).order_by("id")
    assert (created.type, created.title, created.source) == (
        "hubspot.contact.creation",
        "HubSpot contact created",
        "hubspot",
    )
    assert (created.entity_type, created.entity_id, created.idempotency_key) == ("contact", "123", "hubspot:62515:1")
    assert created.timestamp.isoformat() == "2019-07-26T04:00:00+00:00"
    assert changed.title == "HubSpot contact property changed: email"


def test_a_retried_delivery_is_not_duplicated(client, hubspot_source, tenant):
    post_hubspot(client, hubspot_source, DELIVERY)
    retry = post_hubspot(client, hubspot_source, [{**DELIVERY[0], "attemptNumber": 1}])

    assert retry.status_code == 200
    assert (retry.json()["created"], retry.json()["duplicates"]) == (0, 1)
    assert ActivityEvent.objects.for_tenant(tenant).count() == 2


@pytest.mark.parametrize(
    "kwargs",
    [
        {"signature": "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw="},
        {"secret": "not-the-client-secret"},
        {"timestamp": int((time.time() - 301) * 1000)},
        {"timestamp": "yesterday"},
    ],
)
def test_bad_signatures_and_old_timestamps_are_401(client, hubspot_source, tenant, kwargs):
    response = post_hubspot(client, hubspot_source, DELIVERY, **kwargs)

    assert response.status_code == 401
    assert response.json()["error_code"] == "INVALID_SIGNATURE"
    assert not ActivityEvent.objects.for_tenant(tenant).exists()


def test_missing_headers_or_source_are_401(client, hubspot_source):
    no_headers = client.post(
        f"/api/v1/ingest/hubspot?source={hubspot_source.key}", data=b"[]", content_type="application/json"
    )
    no_source = client.post("/api/v1/ingest/hubspot", data=b"[]", content_type="application/json")

    assert (no_headers.status_code, no_source.status_code) == (401, 401)


@pytest.mark.parametrize(
    "payload",
    [
        {"eventId": 1},
        [],
        [DELIVERY[0], {"eventId": 3, "subscriptionType": "contact.creation"}],
        [{**DELIVERY[0], "occurredAt": "yesterday"}],
        [DELIVERY[0], "not an object"],
    ],
)
def test_malformed_batches_are_400_and_store_nothing(client, hubspot_source, tenant, payload):
    response = post_hubspot(client, hubspot_source, payload)

    assert response.status_code == 400
    assert response.json()["success"] is False
    assert not ActivityEvent.objects.for_tenant(tenant).exists()


def test_a_hubspot_source_of_another_tenant_feeds_that_tenant_only(client, hubspot_source, tenant, other_tenant):
    from tests.activity_feed.factories import IngestionSourceFactory

    theirs = IngestionSourceFactory(tenant=other_tenant, kind="hubspot", name="hubspot", secret="globex-secret")

    post_hubspot(client, theirs, DELIVERY)

    assert not ActivityEvent.objects.for_tenant(tenant).exists()
    assert ActivityEvent.objects.for_tenant(other_tenant).count() == 2


def test_timestamps_more_than_five_minutes_in_the_future_are_refused_like_old_ones(client, hubspot_source, tenant):
    # A clock far ahead (or a delivery captured and replayed later) must not widen the window.
    hubspot_v3_verify(
        secrets=[REF["secret"]], method="POST", uri=REF["uri"], body=REF["body"], timestamp=REF["timestamp"],
        signature=REF["signature"], now=15000 - 299,
    )  # fmt: skip
    with pytest.raises(SignatureError):
        hubspot_v3_verify(
            secrets=[REF["secret"]], method="POST", uri=REF["uri"], body=REF["body"], timestamp=REF["timestamp"],
            signature=REF["signature"], now=15000 - 301,
        )  # fmt: skip

    response = post_hubspot(client, hubspot_source, DELIVERY, timestamp=int((time.time() + 301) * 1000))

    assert response.status_code == 401
    assert response.json()["error_code"] == "INVALID_SIGNATURE"
    assert not ActivityEvent.objects.for_tenant(tenant).exists()
