"""Create and ingest are rate limited per tenant: 429 with Retry-After, other tenants unaffected."""

import pytest

from activity_feed.models import ActivityEvent
from tests.activity_feed.test_ingest_webhooks import post_webhook

pytestmark = pytest.mark.django_db


def body(i):
    return {"type": "crm.lead.created", "idempotency_key": f"k{i}"}


def test_create_is_limited_per_tenant(settings, member_api, other_api, tenant):
    settings.OCX_FEED_RATE_LIMITS = {"create": (3, 60)}

    statuses = [member_api.post("/api/v1/events", body(i), format="json").status_code for i in range(4)]
    refused = member_api.post("/api/v1/events", body(9), format="json")
    other = other_api.post("/api/v1/events", body(0), format="json")

    assert statuses == [201, 201, 201, 429]
    assert refused.status_code == 429
    assert refused.json()["error_code"] == "RATE_LIMITED"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert other.status_code == 201
    assert ActivityEvent.objects.for_tenant(tenant).count() == 3


def test_ingest_is_limited_per_tenant(settings, client, webhook_source):
    settings.OCX_FEED_RATE_LIMITS = {"ingest": (2, 60)}

    statuses = [
        post_webhook(client, webhook_source, {"type": "invoice.paid", "data": {}}, msg_id=f"m{i}").status_code
        for i in range(3)
    ]

    assert statuses == [200, 200, 429]


def test_reads_are_not_limited(settings, member_api):
    settings.OCX_FEED_RATE_LIMITS = {"create": (1, 60)}

    assert all(member_api.get("/api/v1/events").status_code == 200 for _ in range(5))
