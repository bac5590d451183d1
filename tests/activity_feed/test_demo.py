"""The demo seed is idempotent."""

import pytest

from activity_feed import demo
from activity_feed.models import ActivityEvent, IngestionSource

pytestmark = pytest.mark.django_db


def test_seeding_twice_gives_the_same_demo_content(tenant, other_tenant, admin_user):
    for _ in range(2):
        demo.seed(tenants={"acme-corp": tenant, "globex": other_tenant}, users={"acme-admin": admin_user})

    assert ActivityEvent.objects.for_tenant(tenant).count() == len(demo.SAMPLES)
    assert ActivityEvent.objects.for_tenant(other_tenant).count() == len(demo.SAMPLES)
    assert IngestionSource.objects.for_tenant(tenant).count() == 3
