"""History rows carry the acting user, from requests and from tasks."""

import pytest

from ocx.core.access import Role
from ocx.core.audit import acting_as, current_actor
from ocx.core.models import Membership
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_history_records_the_actor_given_by_acting_as(tenant, admin_user):
    user = UserFactory(username="newcomer")

    with acting_as(admin_user, reason="onboarding"):
        membership = Membership.objects.create(user=user, tenant=tenant, role=Role.MEMBER)

    record = membership.history.get()
    assert record.history_user == admin_user
    assert record.history_change_reason == "onboarding"


def test_acting_as_is_scoped_to_its_block(admin_user):
    with acting_as(admin_user):
        assert current_actor() == admin_user
    assert current_actor() is None


def test_celery_task_body_can_act_as_a_user(tenant, admin_user):
    from celery import shared_task

    @shared_task
    def promote(membership_id, actor_id):
        from django.contrib.auth import get_user_model

        actor = get_user_model().objects.get(pk=actor_id)
        with acting_as(actor, reason="promotion"):
            m = Membership.objects.get(pk=membership_id)
            m.role = Role.ADMIN
            m.save()

    target = Membership.objects.create(user=UserFactory(username="p"), tenant=tenant, role=Role.MEMBER)

    promote.delay(target.pk, admin_user.pk)

    latest = target.history.order_by("-history_id").first()
    assert latest.role == Role.ADMIN
    assert latest.history_user == admin_user


def test_a_save_that_changes_nothing_writes_no_history_row(tenant, admin_user):
    membership = Membership.objects.create(user=UserFactory(username="same"), tenant=tenant, role=Role.MEMBER)

    membership.save()
    membership.role = Role.ADMIN
    membership.save()
    membership.save()

    assert [h.role for h in membership.history.order_by("history_id")] == [Role.MEMBER, Role.ADMIN]
