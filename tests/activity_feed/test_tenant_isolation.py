"""A client sees, reads, marks and counts only its own tenant's events."""

import pytest

from tests.activity_feed.factories import event

pytestmark = pytest.mark.django_db


def test_list_get_stats_show_only_the_callers_tenant(member_api, tenant, other_tenant):
    mine = event(tenant, title="mine")
    theirs = event(other_tenant, title="theirs")

    listing = member_api.get("/api/v1/events").json()["results"]
    stats = member_api.get("/api/v1/events/stats").json()

    assert [e["id"] for e in listing] == [mine.pk]
    assert member_api.get(f"/api/v1/events/{theirs.pk}").status_code == 404
    assert member_api.get(f"/api/v1/events/{theirs.event_id}").status_code == 404
    assert stats["total"] == 1


def test_x_tenant_of_a_foreign_tenant_is_refused(member_user, api_client_for, other_tenant):
    response = api_client_for(member_user, "globex").get("/api/v1/events")

    assert response.status_code == 403


def test_a_cursor_from_another_tenant_reveals_nothing(member_api, other_api, tenant, other_tenant):
    for i in range(3):
        event(other_tenant, title=f"g{i}", idempotency_key=f"g{i}")
    cursor = other_api.get("/api/v1/events?page_size=1").json()["next_cursor"]

    response = member_api.get(f"/api/v1/events?cursor={cursor}")

    assert response.status_code == 200
    assert response.json()["results"] == []


def test_anonymous_clients_are_refused(anon_api):
    assert anon_api.get("/api/v1/events").status_code in (401, 403)
    assert anon_api.post("/api/v1/events", {}, format="json").status_code in (401, 403)
