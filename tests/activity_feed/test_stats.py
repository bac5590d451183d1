"""Stats: counts by type, source, priority, unread (for the caller) and per day."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from tests.activity_feed.factories import event

pytestmark = pytest.mark.django_db


def test_stats_count_by_type_source_priority_and_day(member_api, tenant, other_tenant, member_user):
    today = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    a = event(tenant, type="crm.lead.created", priority="high", timestamp=today, idempotency_key="a")
    event(tenant, type="crm.lead.created", source="hubspot", timestamp=today, idempotency_key="b")
    event(
        tenant,
        type="registry.activity.approved",
        source="system",
        timestamp=today - timedelta(days=1),
        idempotency_key="c",
    )
    event(other_tenant, type="crm.lead.created", timestamp=today, idempotency_key="d")
    member_api.patch(f"/api/v1/events/{a.pk}/read")

    stats = member_api.get("/api/v1/events/stats").json()

    assert stats["total"] == 3
    assert stats["unread"] == 2
    assert stats["by_type"] == {"crm.lead.created": 2, "registry.activity.approved": 1}
    assert stats["by_source"] == {"hubspot": 1, "internal": 1, "system": 1}
    assert stats["by_priority"] == {"high": 1, "normal": 2}
    assert stats["by_day"] == [
        {"date": (today - timedelta(days=1)).date().isoformat(), "count": 1},
        {"date": today.date().isoformat(), "count": 2},
    ]


def test_stats_take_the_list_filters(member_api, tenant):
    event(tenant, type="crm.lead.created", idempotency_key="a", timestamp=datetime(2026, 1, 1, tzinfo=UTC))
    event(tenant, type="crm.lead.replied", idempotency_key="b", timestamp=datetime(2026, 1, 2, tzinfo=UTC))

    stats = member_api.get("/api/v1/events/stats?types=crm.lead.replied&start_date=2026-01-01").json()

    assert stats["total"] == 1
    assert stats["by_type"] == {"crm.lead.replied": 1}
    assert stats["by_day"] == [{"date": "2026-01-02", "count": 1}]


def test_stats_need_authentication(anon_api):
    assert anon_api.get("/api/v1/events/stats").status_code in (401, 403)
