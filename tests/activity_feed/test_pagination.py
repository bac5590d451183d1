"""Keyset pagination: 30 by default, 100 at most, stable while new events arrive, constant cost."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.activity_feed.factories import event

pytestmark = pytest.mark.django_db

BASE = datetime(2026, 1, 1, tzinfo=UTC)


def make(tenant, count, same_time=False):
    return [
        event(
            tenant, title=f"e{i}", idempotency_key=f"k{i}", timestamp=BASE if same_time else BASE + timedelta(minutes=i)
        )
        for i in range(count)
    ]


def walk(client, url):
    seen, pages = [], 0
    while url:
        body = client.get(url).json()
        seen.extend(e["id"] for e in body["results"])
        url = body["next"]
        pages += 1
    return seen, pages


def test_default_page_is_30_and_max_100(member_api, tenant):
    make(tenant, 105)

    default = member_api.get("/api/v1/events").json()
    big = member_api.get("/api/v1/events?page_size=500").json()

    assert len(default["results"]) == 30
    assert default["page_size"] == 30
    assert default["has_more"] is True
    assert len(big["results"]) == 100


def test_walking_all_pages_returns_each_event_once_newest_first(member_api, tenant):
    made = make(tenant, 25)

    seen, pages = walk(member_api, "/api/v1/events?page_size=7")

    assert seen == [e.pk for e in reversed(made)]
    assert pages == 4


def test_ascending_order(member_api, tenant):
    made = make(tenant, 9)

    seen, _ = walk(member_api, "/api/v1/events?page_size=4&sort_order=asc")

    assert seen == [e.pk for e in made]


def test_identical_timestamps_are_ordered_by_id(member_api, tenant):
    made = make(tenant, 10, same_time=True)

    seen, _ = walk(member_api, "/api/v1/events?page_size=3")

    assert seen == [e.pk for e in reversed(made)]


def test_pages_stay_stable_while_new_events_arrive(member_api, tenant):
    # given: a reader half-way through the feed
    made = make(tenant, 20)
    first = member_api.get("/api/v1/events?page_size=10").json()

    # when: new events arrive (newer, and an ingested one with an old timestamp) before page 2
    event(tenant, title="newest", timestamp=BASE + timedelta(days=1))
    late = event(tenant, title="late but old", timestamp=BASE + timedelta(minutes=5, seconds=30))
    second = member_api.get(first["next"]).json()

    # then: page 2 continues exactly where page 1 stopped; nothing repeats, nothing is skipped
    page_one = [e["id"] for e in first["results"]]
    page_two = [e["id"] for e in second["results"]]
    assert page_one == [e.pk for e in reversed(made[10:])]
    older = [e.pk for e in reversed(made[:10])]
    assert page_two == older[:4] + [late.pk] + older[4:9]
    assert not set(page_one) & set(page_two)


def test_the_cursor_survives_being_filtered(member_api, tenant):
    for i in range(12):
        event(tenant, title=f"e{i}", priority="high" if i % 2 else "low", timestamp=BASE + timedelta(minutes=i))

    seen, _ = walk(member_api, "/api/v1/events?priority=high&page_size=2")

    assert len(seen) == 6


@pytest.mark.parametrize("page_size", [1, 30])
def test_list_query_count_does_not_grow_with_the_page(member_api, tenant, django_assert_num_queries, page_size):
    make(tenant, 40)
    cursor = member_api.get("/api/v1/events?page_size=5").json()["next_cursor"]

    # token auth with the tenant memberships, read mark, rows
    with django_assert_num_queries(3):
        response = member_api.get(f"/api/v1/events?page_size={page_size}&cursor={cursor}&read=false&tags=x")

    assert response.status_code == 200


def test_page_number_form_of_the_seed_returns_that_page_and_a_cursor_to_go_on(member_api, tenant):
    made = make(tenant, 10)
    newest_first = [e.pk for e in reversed(made)]

    second = member_api.get("/api/v1/events?page=2&pageSize=3&sortOrder=desc").json()
    rest, _ = walk(member_api, second["next"])

    assert [e["id"] for e in second["results"]] == newest_first[3:6]
    assert second["page"] == 2
    assert "page=" not in second["next"]
    assert rest == newest_first[6:]


@pytest.mark.parametrize("page", ["0", "-1", "two"])
def test_bad_page_number_is_a_400_in_the_envelope(member_api, tenant, page):
    response = member_api.get(f"/api/v1/events?page={page}")

    assert response.status_code == 400
    assert response.json()["success"] is False
