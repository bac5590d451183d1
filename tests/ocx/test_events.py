"""publish(): one transaction with the caller, pushed and dispatched only after commit."""

from unittest import mock

import pytest
from django.db import IntegrityError, connection, transaction

from activity_feed.models import ActivityEvent, OutboxEvent, OutboxStatus
from activity_feed.publish import publish
from ocx.core import errors

pytestmark = pytest.mark.django_db


def test_publish_writes_event_and_outbox_row(tenant, member_user):
    event = publish(
        tenant=tenant, type="registry.activity.approved", entity_type="activity", entity_id="a-1", actor=member_user
    )

    outbox = OutboxEvent.objects.for_tenant(tenant).get()
    assert outbox.event_id == event.pk
    assert outbox.status == OutboxStatus.PENDING
    assert event.title == "Activity approved"
    assert (event.user_id, event.user_name) == (member_user.pk, "acme-member")


def test_publish_rolls_back_with_its_transaction(tenant):
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            publish(tenant=tenant, type="registry.activity.approved")
            raise RuntimeError("the state change failed")

    assert ActivityEvent.objects.for_tenant(tenant).count() == 0
    assert OutboxEvent.objects.for_tenant(tenant).count() == 0


def test_publish_pushes_only_after_commit(tenant, django_capture_on_commit_callbacks):
    with mock.patch("activity_feed.publish.push_live") as push:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            with transaction.atomic():
                publish(tenant=tenant, type="registry.activity.approved")
            assert push.call_count == 0
        for callback in callbacks:
            callback()

    assert push.call_count == 1


def test_rolled_back_publish_is_never_pushed(tenant, django_capture_on_commit_callbacks):
    with mock.patch("activity_feed.publish.push_live") as push:
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            try:
                with transaction.atomic():
                    publish(tenant=tenant, type="registry.activity.approved")
                    raise RuntimeError
            except RuntimeError:
                pass

    assert callbacks == []
    assert push.call_count == 0


def test_same_idempotency_key_returns_the_first_event(tenant):
    first = publish(tenant=tenant, type="crm.lead.created", idempotency_key="lead-1")
    second = publish(tenant=tenant, type="crm.lead.created", idempotency_key="lead-1", title="different")

    assert second.pk == first.pk
    assert ActivityEvent.objects.for_tenant(tenant).count() == 1


def test_idempotency_keys_are_per_tenant(tenant, other_tenant):
    a = publish(tenant=tenant, type="crm.lead.created", idempotency_key="k")
    b = publish(tenant=other_tenant, type="crm.lead.created", idempotency_key="k")

    assert a.pk != b.pk


def test_event_type_must_be_namespaced(tenant):
    with pytest.raises(errors.ValidationError):
        publish(tenant=tenant, type="approved")


def test_title_and_description_are_stripped_of_markup(tenant):
    event = publish(
        tenant=tenant, type="x.y.z", title="<b>Hi</b><script>alert(1)</script>", description="<img src=x onerror=1>ok"
    )

    assert "<" not in event.title and "script" not in event.title.lower()
    assert event.description == "ok"


def test_events_cannot_be_updated_even_with_raw_sql(tenant):
    event = publish(tenant=tenant, type="x.y.z", title="original")

    with pytest.raises(IntegrityError):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("UPDATE activity_events SET title = 'forged' WHERE id = %s", [event.pk])

    event.refresh_from_db()
    assert event.title == "original"


def test_unexpired_events_cannot_be_deleted_even_with_raw_sql(tenant):
    event = publish(tenant=tenant, type="x.y.z")

    with pytest.raises(IntegrityError):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM outbox_events WHERE event_id = %s", [event.pk])
            cursor.execute("DELETE FROM activity_events WHERE id = %s", [event.pk])

    assert ActivityEvent.objects.for_tenant(tenant).filter(pk=event.pk).exists()


def test_expired_events_are_removed_only_by_the_retention_purge(tenant):
    from datetime import timedelta

    from django.utils import timezone

    from activity_feed.services import events_purge_expired

    event = publish(tenant=tenant, type="x.y.z", expires_at=timezone.now() - timedelta(days=1))

    with pytest.raises(IntegrityError):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM outbox_events WHERE event_id = %s", [event.pk])
            cursor.execute("DELETE FROM activity_events WHERE id = %s", [event.pk])
    purged = events_purge_expired()

    assert purged == 1
    assert not ActivityEvent.objects.for_tenant(tenant).filter(pk=event.pk).exists()
