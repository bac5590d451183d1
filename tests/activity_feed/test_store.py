"""The store: every seed field, append-only trigger, retention purge, sanitisation, bounds."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from activity_feed.models import ActivityEvent, EventRead, OutboxEvent
from activity_feed.services import event_mark_read, events_purge_expired
from activity_feed.tasks import purge_expired
from ocx.core import errors
from tests.activity_feed.factories import event
from tests.factories import member

pytestmark = pytest.mark.django_db

SEED_COLUMNS = {
    "id", "tenant_id", "type", "source", "status", "priority", "source_system", "source_object_id",
    "source_object_type", "title", "description", "event_metadata", "entity_id", "entity_type", "user_id",
    "user_name", "timestamp", "created_at", "expires_at", "idempotency_key", "read", "read_at", "tags",
    "correlation_id",
}  # fmt: skip


def test_every_seed_field_is_in_the_api_shape(member_api, tenant):
    event(tenant, title="hello")

    body = member_api.get("/api/v1/events").json()["results"][0]

    assert SEED_COLUMNS <= set(body)


def test_content_cannot_be_updated_even_with_raw_sql(tenant):
    stored = event(tenant, title="original")

    changes = [
        ("title", "'forged'"),
        ("priority", "'critical'"),
        ("event_metadata", """'{"x": 1}'"""),
        ("expires_at", "'2030-01-01 00:00:00'"),
    ]
    for column, value in changes:
        with pytest.raises(IntegrityError):
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(f"UPDATE activity_events SET {column} = {value} WHERE id = %s", [stored.pk])

    stored.refresh_from_db()
    assert stored.title == "original"


def test_deleting_a_user_keeps_their_events_with_the_name(tenant):
    user = member(tenant, username="leaver")
    stored = event(tenant, actor=user)

    # what on_delete=SET_NULL runs when the account is deleted (other apps' rows aside)
    ActivityEvent.objects.for_tenant(tenant).filter(user=user).update(user=None)

    stored.refresh_from_db()
    assert stored.user_id is None
    assert stored.user_name == "leaver"


def test_unexpired_events_survive_the_purge(tenant):
    keep = event(tenant, expires_at=timezone.now() + timedelta(days=1))
    forever = event(tenant, title="forever")

    assert events_purge_expired() == 0
    assert ActivityEvent.objects.for_tenant(tenant).filter(pk__in=[keep.pk, forever.pk]).count() == 2


def test_purge_removes_expired_events_with_their_outbox_and_read_rows(tenant, member_user):
    gone = event(tenant, expires_at=timezone.now() - timedelta(minutes=1))
    event_mark_read(tenant=tenant, user=member_user, event_id=gone.pk)
    kept = event(tenant)

    purged = purge_expired.delay().get()

    assert purged == 1
    assert list(ActivityEvent.objects.for_tenant(tenant).values_list("id", flat=True)) == [kept.pk]
    assert not OutboxEvent.objects.for_tenant(tenant).filter(event_id=gone.pk).exists()
    assert not EventRead.objects.for_tenant(tenant).exists()


def test_expired_event_cannot_be_deleted_outside_the_purge(tenant):
    gone = event(tenant, expires_at=timezone.now() - timedelta(minutes=1))

    with pytest.raises(IntegrityError):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM outbox_events WHERE event_id = %s", [gone.pk])
            cursor.execute("DELETE FROM activity_events WHERE id = %s", [gone.pk])

    assert ActivityEvent.objects.for_tenant(tenant).filter(pk=gone.pk).exists()


def test_purge_is_scheduled_by_beat():
    from ocx.celery import app

    app.loader.import_default_modules()
    schedule = app.conf.beat_schedule
    assert schedule["activity_feed.purge_expired"]["task"] == "activity_feed.purge_expired"


def test_title_description_and_tags_are_sanitised(tenant):
    stored = event(
        tenant,
        title="<b>Big</b><script>x()</script> deal",
        description="<a href=x>link</a>",
        tags=["<i>vip</i>", "vip"],
    )

    assert stored.title == "Big deal"
    assert stored.description == "link"
    assert stored.tags == ["vip"]


def test_oversized_metadata_is_refused(tenant):
    with pytest.raises(errors.ValidationError):
        event(tenant, payload={"blob": "x" * 70_000})


def test_too_many_tags_are_refused(tenant):
    with pytest.raises(errors.ValidationError):
        event(tenant, tags=[f"t{i}" for i in range(50)])


@pytest.mark.parametrize(
    ("event_type", "title"),
    [
        ("registry.activity.approved", "Activity approved"),
        ("workflow.task.sla_breached", "Task SLA breached"),
        ("workflow.action_plan.activated", "Action plan activated"),
        ("runs.run.completed", "Run completed"),
        ("hubspot.contact.creation", "HubSpot contact created"),
        ("salesforce.account.update", "Salesforce account updated"),
    ],
)
def test_other_apps_events_get_readable_titles(tenant, event_type, title):
    assert event(tenant, type=event_type).title == title


def test_an_app_can_register_its_own_title(tenant):
    from activity_feed.titles import register_title

    register_title("registry.activity.deployed", lambda payload: f"Deployed to {payload.get('environment', '?')}")

    assert event(tenant, type="registry.activity.deployed", payload={"environment": "prod"}).title == "Deployed to prod"
