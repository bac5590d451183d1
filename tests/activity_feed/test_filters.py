"""Every filter of the list, alone and combined; a bad filter is a 400 in the envelope."""

from datetime import UTC, datetime

import pytest

from activity_feed.services import event_mark_read
from tests.activity_feed.factories import event

pytestmark = pytest.mark.django_db


def titles(response):
    assert response.status_code == 200, response.content
    return sorted(e["title"] for e in response.json()["results"])


@pytest.fixture
def feed(tenant):
    return {
        "lead": event(tenant, type="crm.lead.high_intent", title="lead hot", priority="high", tags=["lead", "vip"],
                      entity_type="lead", entity_id="L1", correlation_id="c-1",
                      timestamp=datetime(2026, 1, 5, tzinfo=UTC)),
        "reply": event(tenant, type="crm.lead.replied", title="lead replied", source="hubspot", tags=["lead"],
                       entity_type="lead", entity_id="L2", timestamp=datetime(2026, 2, 5, tzinfo=UTC)),
        "deploy": event(tenant, type="registry.activity.deployed", title="deployed to prod", priority="critical",
                        source="system", tags=["vip"], entity_type="activity", entity_id="A1", correlation_id="c-1",
                        timestamp=datetime(2026, 3, 5, tzinfo=UTC)),
    }  # fmt: skip


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("types=crm.lead.high_intent,crm.lead.replied", ["lead hot", "lead replied"]),
        ("type=registry.activity.deployed", ["deployed to prod"]),
        ("sources=hubspot", ["lead replied"]),
        ("sources=system&sources=hubspot", ["deployed to prod", "lead replied"]),
        ("priority=high,critical", ["deployed to prod", "lead hot"]),
        ("status=active", ["deployed to prod", "lead hot", "lead replied"]),
        ("status=archived", []),
        ("start_date=2026-02-01", ["deployed to prod", "lead replied"]),
        ("end_date=2026-02-05", ["lead hot", "lead replied"]),
        ("start_date=2026-02-01T00:00:00Z&end_date=2026-02-28", ["lead replied"]),
        ("entity_type=lead", ["lead hot", "lead replied"]),
        ("entity_type=lead&entity_id=L2", ["lead replied"]),
        ("tags=vip", ["deployed to prod", "lead hot"]),
        ("tags=lead,vip", ["deployed to prod", "lead hot", "lead replied"]),
        ("tags=lead,vip&tags_match=all", ["lead hot"]),
        ("correlation_id=c-1", ["deployed to prod", "lead hot"]),
        ("search=LEAD", ["lead hot", "lead replied"]),
        ("search=prod&priority=critical&tags=vip", ["deployed to prod"]),
    ],
)
def test_list_filters(member_api, feed, query, expected):
    assert titles(member_api.get(f"/api/v1/events?{query}")) == expected


def test_read_and_unread_filters_are_per_user(member_api, admin_api, tenant, member_user, feed):
    event_mark_read(tenant=tenant, user=member_user, event_id=feed["lead"].pk)

    assert titles(member_api.get("/api/v1/events?read=true")) == ["lead hot"]
    assert titles(member_api.get("/api/v1/events?read=false")) == ["deployed to prod", "lead replied"]
    assert titles(admin_api.get("/api/v1/events?read=true")) == []


@pytest.mark.parametrize(
    "query",
    ["priority=urgent", "sources=fax", "status=deleted", "start_date=yesterday", "read=maybe", "tags_match=some",
     "sort_order=sideways", "page_size=abc", "cursor=not-a-cursor"],
)  # fmt: skip
def test_bad_filters_are_refused_with_the_envelope(member_api, feed, query):
    response = member_api.get(f"/api/v1/events?{query}")

    assert response.status_code == 400
    assert response.json()["success"] is False
    assert response.json()["error_code"] == "VALIDATION_ERROR"
