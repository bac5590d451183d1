"""Once approved, content is frozen: the service says IMMUTABLE, and the database trigger refuses
a raw UPDATE or DELETE too (on SQLite and PostgreSQL alike)."""

import pytest
from django.db import DatabaseError, connection, transaction

from ocx.core import errors
from registry import services
from registry.models import ActivityStatus


def _pk(activity):
    # Django stores UUIDs as 32 hex characters on SQLite, natively on PostgreSQL.
    return activity.pk.hex if connection.vendor == "sqlite" else activity.pk


def _raw(sql, params):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_draft_content_can_be_edited(world):
    activity = world.create()

    activity = services.activity_update(
        tenant=world.tenant, actor=world.creator, activity_id=activity.pk, description="better"
    )

    assert activity.description == "better"


@pytest.mark.parametrize("field", ["name", "version", "ebcl_source", "owner", "authority", "description", "category"])
def test_approved_content_is_immutable_through_the_service(world, field):
    activity = world.approved()
    value = "9.9.9" if field == "version" else "changed"

    with pytest.raises(errors.Immutable):
        services.activity_update(tenant=world.tenant, actor=world.creator, activity_id=activity.pk, **{field: value})


@pytest.mark.parametrize("status_builder", ["approved", "active"])
def test_raw_sql_update_of_frozen_content_is_refused_by_the_trigger(world, status_builder):
    activity = getattr(world, status_builder)()

    with pytest.raises(DatabaseError):
        _raw("UPDATE activities SET ebcl_source = %s WHERE activity_id = %s", ["hacked", _pk(activity)])

    assert world.reload(activity).ebcl_source != "hacked"


def test_raw_sql_delete_of_deployed_activity_is_refused_by_the_trigger(world):
    activity = world.active()
    pk = _pk(activity)

    with pytest.raises(DatabaseError):
        _raw("DELETE FROM activities WHERE activity_id = %s", [pk])

    assert world.reload(activity).status == ActivityStatus.ACTIVE


def test_raw_status_change_of_a_frozen_activity_is_not_a_content_change(world):
    """The trigger guards content; the lifecycle column is the services' business."""
    activity = world.approved()
    pk = _pk(activity)

    _raw("UPDATE activities SET review_round = review_round WHERE activity_id = %s", [pk])


def test_raw_update_of_a_draft_is_allowed(world):
    activity = world.create()
    pk = _pk(activity)

    _raw("UPDATE activities SET description = %s WHERE activity_id = %s", ["raw edit", pk])

    assert world.reload(activity).description == "raw edit"


def test_frozen_activity_cannot_be_deleted_through_the_service(world):
    activity = world.approved()

    with pytest.raises(errors.Immutable):
        services.activity_delete(tenant=world.tenant, actor=world.creator, activity_id=activity.pk)


def test_draft_can_be_deleted(world):
    activity = world.create()

    services.activity_delete(tenant=world.tenant, actor=world.creator, activity_id=activity.pk)

    assert not type(activity).objects.for_tenant(world.tenant).filter(pk=activity.pk).exists()


def test_new_version_bumps_semver_and_copies_content_into_a_draft(world):
    v1 = world.active(name="PO_Approval", version="1.9.0")

    minor = services.activity_new_version(
        tenant=world.tenant,
        actor=world.creator,
        activity_id=v1.pk,
        version_type="MINOR",
        change_summary="Added CFO approval for amounts > $50K",
        breaking_changes=["Changed approval threshold from $100K to $50K"],
    )

    assert minor.version == "1.10.0" and minor.status == ActivityStatus.DRAFT
    assert minor.ebcl_source == v1.ebcl_source and minor.owner == v1.owner
    record = minor.version_record
    assert record.previous_activity == v1 and record.version_type == "MINOR"
    assert record.breaking_changes == ["Changed approval threshold from $100K to $50K"]


@pytest.mark.parametrize("version_type, expected", [("PATCH", "1.2.4"), ("MINOR", "1.3.0"), ("MAJOR", "2.0.0")])
def test_new_version_bumps_by_type(world, version_type, expected):
    v1 = world.create(name="Bump", version="1.2.3")

    new = services.activity_new_version(
        tenant=world.tenant,
        actor=world.creator,
        activity_id=v1.pk,
        version_type=version_type,
        change_summary="c",
        breaking_changes=["b"],
    )

    assert new.version == expected


def test_major_version_must_list_a_breaking_change(world):
    v1 = world.create(name="Major")

    with pytest.raises(errors.ValidationError, match="breaking change"):
        services.activity_new_version(
            tenant=world.tenant,
            actor=world.creator,
            activity_id=v1.pk,
            version_type="MAJOR",
            change_summary="c",
        )


def test_invalid_semver_is_refused(world):
    with pytest.raises(errors.ValidationError):
        world.create(version="1.0")


def test_duplicate_name_and_version_is_a_conflict(world):
    world.create(name="Dup", version="1.0.0")

    with pytest.raises(errors.Conflict):
        world.create(name="Dup", version="1.0.0")
