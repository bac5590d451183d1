"""The EBCL source cap holds on every path that writes it (issue 14): the API refuses more than
``EBCL_SOURCE_MAX_LENGTH`` characters in its serializers, and the services refuse it for every
other caller (the admin's forms), with the same constant and the same VALIDATION_ERROR shape."""

import pytest
from django.urls import reverse

from ocx.core import errors
from registry import serializers, services
from registry.models import Activity, ActivityStatus
from registry.services.activities import EBCL_SOURCE_MAX_LENGTH

pytestmark = pytest.mark.django_db

TOO_LONG = "x" * (EBCL_SOURCE_MAX_LENGTH + 1)


def assert_refuses_ebcl_source(excinfo):
    error = excinfo.value
    assert error.error_code == "VALIDATION_ERROR"
    assert list(error.details) == ["ebcl_source"]
    assert str(EBCL_SOURCE_MAX_LENGTH) in error.details["ebcl_source"][0]


def test_the_api_and_the_services_share_one_cap():
    assert serializers.EBCL_SOURCE_MAX_LENGTH is EBCL_SOURCE_MAX_LENGTH == 200_000
    assert serializers.ActivityCreateInput().fields["ebcl_source"].max_length == EBCL_SOURCE_MAX_LENGTH


def test_create_accepts_the_cap_and_refuses_one_character_more(world):
    assert len(world.create(ebcl_source="x" * EBCL_SOURCE_MAX_LENGTH).ebcl_source) == EBCL_SOURCE_MAX_LENGTH

    with pytest.raises(errors.ValidationError) as excinfo:
        world.create(name="TooLong", ebcl_source=TOO_LONG)

    assert_refuses_ebcl_source(excinfo)
    assert not Activity.objects.for_tenant(world.tenant).filter(name="TooLong").exists()


def test_update_refuses_an_oversized_source_and_keeps_the_draft(world):
    activity = world.create()
    before = activity.ebcl_source

    with pytest.raises(errors.ValidationError) as excinfo:
        services.activity_update(
            tenant=world.tenant, actor=world.creator, activity_id=activity.pk, ebcl_source=TOO_LONG
        )

    assert_refuses_ebcl_source(excinfo)
    assert world.reload(activity).ebcl_source == before


def test_new_version_refuses_an_oversized_source_and_creates_nothing(world):
    activity = world.create()

    with pytest.raises(errors.ValidationError) as excinfo:
        services.activity_new_version(
            tenant=world.tenant,
            actor=world.creator,
            activity_id=activity.pk,
            version_type="MINOR",
            change_summary="bigger",
            ebcl_source=TOO_LONG,
        )

    assert_refuses_ebcl_source(excinfo)
    assert list(Activity.objects.for_tenant(world.tenant).filter(name=activity.name)) == [activity]


def test_the_admin_add_form_shows_the_cap_as_a_field_error_and_saves_nothing(world, client):
    from django.contrib.auth.models import Permission

    # given a staff creator with the registry's admin permissions
    user = world.creator
    user.is_staff = True
    user.save()
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="registry"))
    client.force_login(user)
    data = {
        "tenant": world.tenant.pk,
        "name": "AdminTooLong",
        "version": "1.0.0",
        "ebcl_source": TOO_LONG,
        "owner": "Finance Department",
        "authority": "",
        "description": "",
        "category": "",
        "approvals-TOTAL_FORMS": 0,
        "approvals-INITIAL_FORMS": 0,
        "deployments-TOTAL_FORMS": 0,
        "deployments-INITIAL_FORMS": 0,
    }

    # when the add form is posted with one character over the cap
    response = client.post(reverse("admin:registry_activity_add"), data)

    # then nothing is saved, and the form comes back with the cap as the field's error
    assert response.status_code == 200
    assert "ebcl_source" in response.context["adminform"].form.errors
    assert not Activity.objects.for_tenant(world.tenant).filter(name="AdminTooLong").exists()
    # and the same form one character shorter saves (so the refusal above was the cap's)
    data["ebcl_source"] = TOO_LONG[:-1]
    assert client.post(reverse("admin:registry_activity_add"), data).status_code == 302
    assert Activity.objects.for_tenant(world.tenant).get(name="AdminTooLong").status == ActivityStatus.DRAFT
