"""Read state is per user: one read, read-all up to a cursor (one row), unread counts."""

import pytest

from activity_feed.models import EventRead, ReadMarker
from tests.activity_feed.factories import event, events

pytestmark = pytest.mark.django_db


def unread(client):
    return client.get("/api/v1/events/stats").json()["unread"]


def test_marking_read_is_per_user(member_api, admin_api, tenant):
    shared = event(tenant, title="shared")

    response = member_api.patch(f"/api/v1/events/{shared.pk}/read")

    assert response.status_code == 200
    assert response.json()["read"] is True
    assert response.json()["read_at"] is not None
    assert member_api.get(f"/api/v1/events/{shared.pk}").json()["read"] is True
    assert admin_api.get(f"/api/v1/events/{shared.pk}").json()["read"] is False
    assert (unread(member_api), unread(admin_api)) == (0, 1)


def test_marking_read_twice_keeps_the_first_time(member_api, tenant):
    shared = event(tenant)

    first = member_api.patch(f"/api/v1/events/{shared.pk}/read").json()["read_at"]
    second = member_api.post(f"/api/v1/events/{shared.pk}/read").json()["read_at"]

    assert first == second
    assert EventRead.objects.for_tenant(tenant).count() == 1


def test_read_all_marks_everything_with_one_row(member_api, admin_api, tenant):
    events(tenant, 12)

    response = member_api.patch("/api/v1/events/read-all", {}, format="json")

    assert response.status_code == 200
    assert response.json()["unread_count"] == 0
    assert ReadMarker.objects.for_tenant(tenant).count() == 1
    assert not EventRead.objects.for_tenant(tenant).exists()
    assert all(e["read"] for e in member_api.get("/api/v1/events").json()["results"])
    assert unread(admin_api) == 12


def test_read_all_up_to_a_cursor_leaves_newer_events_unread(member_api, tenant):
    made = events(tenant, 6)

    member_api.patch("/api/v1/events/read-all", {"up_to_id": made[3].pk}, format="json")
    newer = event(tenant, title="after")

    listing = {e["id"]: e["read"] for e in member_api.get("/api/v1/events").json()["results"]}
    assert listing == {**{e.pk: e.pk <= made[3].pk for e in made}, newer.pk: False}
    assert unread(member_api) == 3


def test_read_all_accepts_a_list_cursor(member_api, tenant):
    events(tenant, 5)
    page = member_api.get("/api/v1/events?page_size=2&sort_order=asc").json()

    member_api.post("/api/v1/events/read-all", {"cursor": page["next_cursor"]}, format="json")

    assert unread(member_api) == 3


def test_read_all_never_moves_backwards(member_api, tenant):
    made = events(tenant, 4)

    member_api.patch("/api/v1/events/read-all", {}, format="json")
    member_api.patch("/api/v1/events/read-all", {"up_to_id": made[0].pk}, format="json")

    assert unread(member_api) == 0


def test_single_reads_and_read_all_combine_in_unread_counts(member_api, tenant):
    made = events(tenant, 6)
    member_api.patch("/api/v1/events/read-all", {"up_to_id": made[1].pk}, format="json")
    member_api.patch(f"/api/v1/events/{made[1].pk}/read")  # already covered by the mark
    member_api.patch(f"/api/v1/events/{made[4].pk}/read")

    assert unread(member_api) == 3
    assert [e["id"] for e in member_api.get("/api/v1/events?read=false&sort_order=asc").json()["results"]] == [
        made[2].pk, made[3].pk, made[5].pk,
    ]  # fmt: skip


def test_marking_another_tenants_event_is_404(member_api, other_tenant):
    foreign = event(other_tenant)

    response = member_api.patch(f"/api/v1/events/{foreign.pk}/read")

    assert response.status_code == 404
    assert not EventRead.objects.all_tenants().exists()
