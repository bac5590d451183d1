"""The same event twice — sequentially or concurrently — is one row; the repeat answers 200."""

import threading
from datetime import UTC, datetime

import pytest
from django.db import connection

from activity_feed.models import ActivityEvent, OutboxEvent
from activity_feed.publish import derive_idempotency_key
from tests.factories import token_for

pytestmark = pytest.mark.django_db

BODY = {
    "type": "crm.lead.high_intent",
    "source": "internal",
    "source_system": "internal",
    "source_object_id": "lead-456",
    "title": "High-intent lead detected",
    "description": "Lead opened email 5 times and visited pricing",
    "event_metadata": {"lead_id": "lead-456", "email_opens": 5},
    "entity_id": "lead-456",
    "entity_type": "lead",
    "priority": "high",
    "tags": ["lead", "high-intent"],
    "timestamp": "2026-11-20T10:00:00Z",
}


def test_create_returns_201_then_200_with_the_first_event(member_api, tenant):
    first = member_api.post("/api/v1/events", {**BODY, "idempotency_key": "lead-456-hi"}, format="json")
    again = member_api.post(
        "/api/v1/events", {**BODY, "idempotency_key": "lead-456-hi", "title": "changed"}, format="json"
    )

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["title"] == "High-intent lead detected"
    assert ActivityEvent.objects.for_tenant(tenant).count() == 1
    assert OutboxEvent.objects.for_tenant(tenant).count() == 1


def test_without_a_key_one_is_derived_from_source_type_and_timestamp(member_api, tenant):
    first = member_api.post("/api/v1/events", BODY, format="json")
    again = member_api.post("/api/v1/events", BODY, format="json")
    later = member_api.post("/api/v1/events", {**BODY, "timestamp": "2026-11-20T10:00:01Z"}, format="json")

    expected = derive_idempotency_key(
        source_system="internal",
        source_object_id="lead-456",
        event_type="crm.lead.high_intent",
        timestamp=datetime(2026, 11, 20, 10, tzinfo=UTC),
    )
    assert (first.status_code, again.status_code, later.status_code) == (201, 200, 201)
    assert first.json()["idempotency_key"] == expected
    assert ActivityEvent.objects.for_tenant(tenant).count() == 2


def test_same_key_in_two_tenants_is_two_events(member_api, other_api):
    a = member_api.post("/api/v1/events", {**BODY, "idempotency_key": "k"}, format="json")
    b = other_api.post("/api/v1/events", {**BODY, "idempotency_key": "k"}, format="json")

    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["id"] != b.json()["id"]


def test_create_needs_the_create_event_permission(viewer_user, api_client_for):
    response = api_client_for(viewer_user).post("/api/v1/events", BODY, format="json")

    assert response.status_code == 403
    assert response.json()["error_code"] == "PERMISSION_DENIED"


def test_create_refuses_another_tenants_id(member_api, other_tenant):
    response = member_api.post("/api/v1/events", {**BODY, "tenant_id": "globex"}, format="json")

    assert response.status_code == 403


def test_create_refuses_unknown_fields_and_bad_values(member_api):
    unknown = member_api.post("/api/v1/events", {**BODY, "tenantId": "x"}, format="json")
    bad_type = member_api.post("/api/v1/events", {**BODY, "type": "nonamespace"}, format="json")
    bad_priority = member_api.post("/api/v1/events", {**BODY, "priority": "urgent"}, format="json")
    bad_meta = member_api.post("/api/v1/events", {**BODY, "event_metadata": [1, 2]}, format="json")

    for response in (unknown, bad_type, bad_priority, bad_meta):
        assert response.status_code == 400
        assert response.json()["success"] is False


def test_oversized_metadata_is_a_400(member_api):
    response = member_api.post("/api/v1/events", {**BODY, "event_metadata": {"x": "y" * 70_000}}, format="json")

    assert response.status_code == 400
    assert response.json()["error_code"] == "VALIDATION_ERROR"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_yield_one_row(member_user, tenant):
    # given: eight clients sending the same event at the same instant
    from rest_framework.test import APIClient

    token = token_for(member_user)
    barrier = threading.Barrier(8)
    statuses: list[int] = []
    ids: set[int] = set()

    def send():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        barrier.wait()
        try:
            response = client.post("/api/v1/events", {**BODY, "idempotency_key": "race"}, format="json")
            statuses.append(response.status_code)
            ids.add(response.json()["id"])
        finally:
            connection.close()

    # when
    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # then
    assert sorted(statuses) == [200] * 7 + [201]
    assert len(ids) == 1
    assert ActivityEvent.objects.for_tenant(tenant).count() == 1
    assert OutboxEvent.objects.for_tenant(tenant).count() == 1
