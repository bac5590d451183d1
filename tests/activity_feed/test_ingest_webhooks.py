"""Standard Webhooks ingestion: the reference test vector, rotation, tolerance, every refusal."""

import json
import time

import pytest

from activity_feed.ingest.signatures import SignatureError, standard_webhook_sign, standard_webhook_verify
from activity_feed.models import ActivityEvent, OutboxEvent
from tests.activity_feed.factories import IngestionSourceFactory

pytestmark = pytest.mark.django_db

# The Standard Webhooks reference vector (standard-webhooks/standard-webhooks, libraries' tests).
REF_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
REF_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
REF_TIMESTAMP = 1614265330
REF_PAYLOAD = b'{"test": 2432232314}'
REF_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def post_webhook(client, source, payload, *, msg_id="msg_1", secret=None, timestamp=None, signature=None, raw=None):
    body = raw if raw is not None else json.dumps(payload).encode()
    stamp = int(time.time()) if timestamp is None else timestamp
    signature = signature or standard_webhook_sign(
        secret=secret or source.secret, msg_id=msg_id, timestamp=stamp, body=body
    )
    return client.post(
        f"/api/v1/ingest/webhook/{source.key}",
        data=body,
        content_type="application/json",
        headers={"webhook-id": msg_id, "webhook-timestamp": str(stamp), "webhook-signature": signature},
    )


def test_signing_reproduces_the_reference_vector():
    assert (
        standard_webhook_sign(secret=REF_SECRET, msg_id=REF_ID, timestamp=REF_TIMESTAMP, body=REF_PAYLOAD)
        == REF_SIGNATURE
    )


def test_reference_vector_verifies_within_tolerance():
    standard_webhook_verify(
        secrets=[REF_SECRET], msg_id=REF_ID, timestamp=str(REF_TIMESTAMP), signature_header=REF_SIGNATURE,
        body=REF_PAYLOAD, now=REF_TIMESTAMP + 60,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("header", "now", "body"),
    [
        ("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA=", REF_TIMESTAMP, REF_PAYLOAD),  # reference "invalid"
        (REF_SIGNATURE, REF_TIMESTAMP + 301, REF_PAYLOAD),  # too old
        (REF_SIGNATURE, REF_TIMESTAMP - 301, REF_PAYLOAD),  # too new
        (REF_SIGNATURE, REF_TIMESTAMP, b'{"test": 2432232315}'),  # tampered body
        (REF_SIGNATURE.replace("v1,", "v2,"), REF_TIMESTAMP, REF_PAYLOAD),  # unknown version
        ("", REF_TIMESTAMP, REF_PAYLOAD),
    ],
)
def test_reference_vector_refusals(header, now, body):
    with pytest.raises(SignatureError):
        standard_webhook_verify(
            secrets=[REF_SECRET],
            msg_id=REF_ID,
            timestamp=str(REF_TIMESTAMP),
            signature_header=header,
            body=body,
            now=now,
        )


def test_one_valid_signature_among_several_verifies():
    header = " ".join(
        [
            "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
            "v2,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
            REF_SIGNATURE,
        ]
    )

    standard_webhook_verify(
        secrets=[REF_SECRET],
        msg_id=REF_ID,
        timestamp=str(REF_TIMESTAMP),
        signature_header=header,
        body=REF_PAYLOAD,
        now=REF_TIMESTAMP,
    )


def test_a_delivery_becomes_an_event_of_the_sources_tenant(client, webhook_source, tenant):
    payload = {
        "type": "invoice.paid",
        "timestamp": "2026-11-20T10:00:00Z",
        "data": {
            "title": "<b>Invoice</b> 42 paid",
            "entity_type": "invoice",
            "entity_id": "in_42",
            "priority": "high",
            "tags": ["billing"],
        },
    }

    response = post_webhook(client, webhook_source, payload)

    assert response.status_code == 200, response.content
    assert response.json()["created"] == 1
    stored = ActivityEvent.objects.for_tenant(tenant).get()
    assert (stored.type, stored.source, stored.source_system) == ("stripe.invoice.paid", "webhook", "stripe")
    assert (stored.title, stored.priority, stored.entity_id, stored.tags) == (
        "Invoice 42 paid",
        "high",
        "in_42",
        ["billing"],
    )
    assert stored.idempotency_key == "webhook:stripe:msg_1"
    assert OutboxEvent.objects.for_tenant(tenant).filter(event=stored).exists()


def test_a_retried_delivery_is_not_duplicated(client, webhook_source, tenant):
    payload = {"type": "invoice.paid", "data": {}}

    first = post_webhook(client, webhook_source, payload, msg_id="msg_retry")
    retry = post_webhook(client, webhook_source, payload, msg_id="msg_retry")

    assert (first.json()["created"], retry.json()["created"], retry.json()["duplicates"]) == (1, 0, 1)
    assert retry.json()["event_ids"] == first.json()["event_ids"]
    assert ActivityEvent.objects.for_tenant(tenant).count() == 1


def test_an_array_is_stored_in_one_go(client, webhook_source, tenant):
    payload = [{"type": "invoice.paid", "data": {"entity_id": str(i)}} for i in range(50)]

    response = post_webhook(client, webhook_source, payload, msg_id="batch")

    assert response.json()["created"] == 50
    assert ActivityEvent.objects.for_tenant(tenant).count() == 50


def test_the_previous_secret_still_verifies_during_rotation(client, webhook_source, tenant):
    old = webhook_source.secret
    webhook_source.previous_secret, webhook_source.secret = old, "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    webhook_source.save()

    assert post_webhook(client, webhook_source, {"type": "a.b"}, secret=old, msg_id="old").status_code == 200
    assert post_webhook(client, webhook_source, {"type": "a.b"}, msg_id="new").status_code == 200


@pytest.mark.parametrize(
    "kwargs",
    [
        {"signature": "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="},
        {"secret": "whsec_" + "d3Jvbmcgc2VjcmV0IHdyb25nIHNlY3JldA=="},
        {"timestamp": int(time.time()) - 600},
        {"timestamp": int(time.time()) + 600},
    ],
)
def test_bad_signatures_are_401_and_store_nothing(client, webhook_source, tenant, kwargs):
    response = post_webhook(client, webhook_source, {"type": "invoice.paid"}, **kwargs)

    assert response.status_code == 401
    assert response.json()["error_code"] == "INVALID_SIGNATURE"
    assert not ActivityEvent.objects.for_tenant(tenant).exists()


def test_unknown_or_inactive_source_is_401(client, webhook_source, tenant):
    webhook_source.is_active = False
    webhook_source.save()

    assert post_webhook(client, webhook_source, {"type": "a.b"}).status_code == 401


@pytest.mark.parametrize(
    "raw",
    [
        b"{not json",
        b'{"data": {}}',
        b"[]",
        b'[{"type": "ok.event"}, {"no": "type"}]',
        b'{"type": "a.b", "data": {"priority": "urgent"}}',
    ],
)
def test_malformed_payloads_are_400_and_nothing_of_the_batch_is_stored(client, webhook_source, tenant, raw):
    response = post_webhook(client, webhook_source, None, raw=raw)

    assert response.status_code == 400
    assert response.json()["success"] is False
    assert not ActivityEvent.objects.for_tenant(tenant).exists()


def test_a_source_only_feeds_its_own_tenant(client, webhook_source, other_tenant, tenant):
    theirs = IngestionSourceFactory(tenant=other_tenant, kind="webhook", name="stripe")

    post_webhook(client, theirs, {"type": "invoice.paid"}, msg_id="same-id")
    post_webhook(client, webhook_source, {"type": "invoice.paid"}, msg_id="same-id")

    assert ActivityEvent.objects.for_tenant(tenant).count() == 1
    assert ActivityEvent.objects.for_tenant(other_tenant).count() == 1
