"""Signature corpora for webhook ingestion, end to end through the endpoints.

Standard Webhooks (``/api/v1/ingest/webhook/<source>`` and the signed Salesforce relay
``/api/v1/ingest/salesforce?source=``): every signature is made by the official
``standardwebhooks`` library, and for every case of the corpus the library's own verifier must
agree with the server (accepted ⇔ the library verifies). HubSpot v3: signatures made by an
independent implementation of HubSpot's documented algorithm (checked against HubSpot's
published vector). Cases: valid, tampered (body, id, timestamp), stale, future, wrong secret,
rotated secrets (the previous secret verifies during the rotation, not after), malformed
headers. A refused delivery is a 401 INVALID_SIGNATURE and stores nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import standardwebhooks.webhooks
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from activity_feed.ingest import signatures
from activity_feed.models import ActivityEvent
from tests.activity_feed.factories import IngestionSourceFactory

pytestmark = pytest.mark.django_db

NOW = int(time.time())  # both clocks, the server's and the library's verifier's, are frozen here
OLD = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NEW = "whsec_" + base64.b64encode(b"the rotated secret, 32 bytes!!!!").decode()
WRONG = "whsec_" + base64.b64encode(b"somebody else's secret, 32 bytes").decode()


class _FrozenDatetime(datetime):
    @classmethod
    def now(cls, tz=None):
        return datetime.fromtimestamp(NOW, tz=tz)


@pytest.fixture(autouse=True)
def frozen_clocks(monkeypatch):
    monkeypatch.setattr(signatures, "time", SimpleNamespace(time=lambda: float(NOW)))
    monkeypatch.setattr(standardwebhooks.webhooks, "datetime", _FrozenDatetime)


def _library_sign(secret: str, msg_id: str, stamp: int, body: bytes) -> str:
    return Webhook(secret).sign(msg_id, datetime.fromtimestamp(stamp, tz=UTC), body.decode())


# name: (signing secret, body change, header changes, offset of the timestamp, accepted?)
WEBHOOK_CORPUS = {
    "valid": (OLD, None, {}, 0, True),
    "valid, 4 minutes old": (OLD, None, {}, -240, True),
    "valid, 4 minutes ahead": (OLD, None, {}, 240, True),
    "stale, 6 minutes old": (OLD, None, {}, -360, False),
    "future, 6 minutes ahead": (OLD, None, {}, 360, False),
    "tampered body": (OLD, b' {"type": "evil.injected"}', {}, 0, False),
    "tampered id": (OLD, None, {"webhook-id": "msg_other"}, 0, False),
    "tampered timestamp": (OLD, None, {"webhook-timestamp": str(NOW + 1)}, 0, False),
    "wrong secret": (WRONG, None, {}, 0, False),
    "unknown version": (OLD, None, {"version": "v2"}, 0, False),
    "empty signature": (OLD, None, {"webhook-signature": ""}, 0, False),
    "garbage signature": (OLD, None, {"webhook-signature": "v1,!!!notbase64!!!"}, 0, False),
    "missing id": (OLD, None, {"webhook-id": ""}, 0, False),
    "timestamp not a number": (OLD, None, {"webhook-timestamp": "yesterday"}, 0, False),
    "one valid among several": (OLD, None, {"extra": f"v1,{base64.b64encode(b'x' * 32).decode()}"}, 0, True),
}


def _webhook_request(case, body: bytes):
    secret, tamper, changes, offset, _ = case
    stamp = NOW + offset
    signature = _library_sign(secret, "msg_1", stamp, body)
    if changes.get("version"):
        signature = signature.replace("v1,", f"{changes['version']},", 1)
    if changes.get("extra"):
        signature = f"{changes['extra']} {signature}"
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(stamp), "webhook-signature": signature}
    headers.update({k: v for k, v in changes.items() if k.startswith("webhook-")})
    return body + (tamper or b""), headers


def _library_accepts(body: bytes, headers: dict) -> bool:
    try:
        Webhook(OLD).verify(body, headers)
    except (WebhookVerificationError, ValueError):  # the library lets a bad base64 through as ValueError
        return False
    return True


@pytest.fixture
def rotating_source(tenant):
    return IngestionSourceFactory(tenant=tenant, kind="webhook", name="signed", secret=OLD)


@pytest.mark.parametrize("name", WEBHOOK_CORPUS)
def test_standard_webhook_corpus(client, rotating_source, tenant, name):
    case = WEBHOOK_CORPUS[name]
    body, headers = _webhook_request(case, json.dumps({"type": "crm.deal.won", "data": {"n": 1}}).encode())

    response = client.post(
        f"/api/v1/ingest/webhook/{rotating_source.key}", data=body, content_type="application/json", headers=headers
    )

    stored = ActivityEvent.objects.for_tenant(tenant).filter(source_system="signed").count()
    if case[-1]:
        assert response.status_code == 200, response.content
        assert stored == 1
    else:
        assert response.status_code == 401 and response.json()["error_code"] == "INVALID_SIGNATURE", response.content
        assert stored == 0
    # the official verifier agrees with the server on every case
    assert _library_accepts(body, headers) is case[-1]


def test_standard_webhook_secret_rotation(client, rotating_source, tenant):
    url = f"/api/v1/ingest/webhook/{rotating_source.key}"

    def send(secret: str, msg_id: str) -> int:
        body = json.dumps({"type": "crm.deal.won", "data": {"id": msg_id}}).encode()
        headers = {"webhook-id": msg_id, "webhook-timestamp": str(NOW),
                   "webhook-signature": _library_sign(secret, msg_id, NOW, body)}  # fmt: skip
        return client.post(url, data=body, content_type="application/json", headers=headers).status_code

    # during the rotation: the new secret and the previous one both verify
    rotating_source.previous_secret, rotating_source.secret = OLD, NEW
    rotating_source.save()
    assert (send(NEW, "m-new"), send(OLD, "m-old-during")) == (200, 200)
    # once the previous secret is dropped, it no longer does
    rotating_source.previous_secret = ""
    rotating_source.save()
    assert (send(NEW, "m-new-after"), send(OLD, "m-old-after")) == (200, 401)
    assert ActivityEvent.objects.for_tenant(tenant).filter(source_system="signed").count() == 3


SALESFORCE_CDC = {
    "data": {
        "schema": "IeRuaY6cbI_HsV8Rv1Mc5g",
        "payload": {
            "ChangeEventHeader": {
                "entityName": "Opportunity", "recordIds": ["006xx000001"], "changeType": "UPDATE",
                "commitTimestamp": 1700000000000, "transactionKey": "0001-tx", "sequenceNumber": 1,
                "commitUser": "005xx", "changedFields": ["StageName"],
            },
            "StageName": "Closed Won",
        },
        "event": {"replayId": 42},
    },
    "channel": "/data/OpportunityChangeEvent",
}  # fmt: skip


@pytest.mark.parametrize("name", ["valid", "stale, 6 minutes old", "future, 6 minutes ahead", "tampered body",
                                  "wrong secret"])  # fmt: skip
def test_signed_salesforce_relay_corpus(client, tenant, name):
    source = IngestionSourceFactory(tenant=tenant, kind="salesforce", name="salesforce", secret=OLD)
    case = WEBHOOK_CORPUS[name]
    body, headers = _webhook_request(case, json.dumps(SALESFORCE_CDC).encode())

    response = client.post(
        f"/api/v1/ingest/salesforce?source={source.key}", data=body, content_type="application/json", headers=headers
    )

    stored = ActivityEvent.objects.for_tenant(tenant).count()
    if case[-1]:
        assert response.status_code == 200, response.content
        assert stored >= 1
    else:
        assert response.status_code == 401 and response.json()["error_code"] == "INVALID_SIGNATURE"
        assert stored == 0
    assert _library_accepts(body, headers) is case[-1]


# --- HubSpot v3 ---------------------------------------------------------------------------------
def hubspot_reference_sign(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """HubSpot's documented v3 algorithm, written apart from OCX's implementation."""
    message = f"{method}{uri}".encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def test_the_reference_implementation_reproduces_hubspots_published_vector():
    signed = hubspot_reference_sign(
        "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy", "POST", "https://www.example.com/webhook_uri",
        b"{'example_field':'example_value'}", "15000000",
    )  # fmt: skip
    assert signed == "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw="


HUBSPOT_SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
HUBSPOT_NEW = "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"
# name: (signing secret, tampered body?, timestamp offset in seconds, accepted?)
HUBSPOT_CORPUS = {
    "valid": (HUBSPOT_SECRET, False, 0, True),
    "valid, 4 minutes old": (HUBSPOT_SECRET, False, -240, True),
    "valid, 4 minutes ahead": (HUBSPOT_SECRET, False, 240, True),
    "stale, 6 minutes old": (HUBSPOT_SECRET, False, -360, False),
    "future, 6 minutes ahead": (HUBSPOT_SECRET, False, 360, False),
    "far future": (HUBSPOT_SECRET, False, 86400 * 365, False),
    "tampered body": (HUBSPOT_SECRET, True, 0, False),
    "wrong secret": ("not-the-client-secret", False, 0, False),
    "rotated: previous secret during the rotation": (HUBSPOT_SECRET, False, 0, "rotating"),
    "rotated: new secret": (HUBSPOT_NEW, False, 0, "rotating"),
}
DELIVERY = [{"eventId": 7, "subscriptionId": 1, "portalId": 62515, "occurredAt": 1564113600000,
             "subscriptionType": "contact.creation", "attemptNumber": 0, "objectId": 123, "changeSource": "CRM",
             "appId": 54321}]  # fmt: skip


@pytest.mark.parametrize("name", HUBSPOT_CORPUS)
def test_hubspot_v3_corpus(client, tenant, name):
    secret, tampered, offset, expected = HUBSPOT_CORPUS[name]
    source = IngestionSourceFactory(tenant=tenant, kind="hubspot", name="hubspot", secret=HUBSPOT_SECRET)
    if expected == "rotating":
        source.previous_secret, source.secret = HUBSPOT_SECRET, HUBSPOT_NEW
        source.save()
    body = json.dumps(DELIVERY).encode()
    stamp = str((NOW + offset) * 1000)
    uri = f"http://testserver/api/v1/ingest/hubspot?source={source.key}"
    signature = hubspot_reference_sign(secret, "POST", uri, body, stamp)

    response = client.post(
        f"/api/v1/ingest/hubspot?source={source.key}",
        data=body + (b" " if tampered else b""),
        content_type="application/json",
        headers={"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": stamp},
    )

    stored = ActivityEvent.objects.for_tenant(tenant).count()
    if expected:
        assert response.status_code == 200, response.content
        assert stored == 1
    else:
        assert response.status_code == 401 and response.json()["error_code"] == "INVALID_SIGNATURE"
        assert stored == 0
