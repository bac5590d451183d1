"""Admin: events are browsable and filterable but read-only; sources are managed by admins."""

import pytest
from django.contrib.auth.models import Permission

from activity_feed.models import IngestionSource
from tests.activity_feed.factories import IngestionSourceFactory, event
from tests.factories import UserFactory, member

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(tenant):
    def make(role, username):
        user = member(tenant, role, username=username)
        user.is_staff = True
        user.save()
        user.user_permissions.set(Permission.objects.filter(content_type__app_label="activity_feed"))
        return user

    return make


def test_events_are_listed_and_filtered_but_not_editable(client, staff, tenant, other_tenant):
    mine = event(tenant, title="acme visible", priority="high")
    event(other_tenant, title="globex hidden")
    client.force_login(staff("admin", "acme-staff"))

    listing = client.get("/admin/activity_feed/activityevent/?priority__exact=high").content.decode()
    detail = client.post(f"/admin/activity_feed/activityevent/{mine.pk}/change/", {"title": "forged"})

    assert "acme visible" in listing
    assert "globex hidden" not in listing
    assert client.get("/admin/activity_feed/activityevent/add/").status_code == 403
    assert detail.status_code == 403
    mine.refresh_from_db()
    assert mine.title == "acme visible"


def test_tenant_admin_manages_ingestion_sources(client, staff, tenant):
    client.force_login(staff("admin", "acme-staff"))

    response = client.post(
        "/admin/activity_feed/ingestionsource/add/",
        {"tenant": tenant.pk, "kind": "webhook", "name": "stripe", "is_active": "on", "key": "stripe-key",
         "secret": "whsec_c2VjcmV0", "previous_secret": ""},
    )  # fmt: skip

    assert response.status_code == 302, response.content.decode()[:2000]
    assert IngestionSource.objects.for_tenant(tenant).get().name == "stripe"


def test_members_cannot_see_ingestion_secrets(client, staff, tenant):
    IngestionSourceFactory(tenant=tenant)
    client.force_login(staff("member", "acme-staff-member"))

    assert client.get("/admin/activity_feed/ingestionsource/").status_code == 403


def test_superuser_sees_every_tenants_events(client, tenant, other_tenant):
    event(other_tenant, title="globex row")
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(root)

    assert "globex row" in client.get("/admin/activity_feed/activityevent/").content.decode()
