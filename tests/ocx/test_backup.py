"""Backup and restore in both modes (issue 11 "Hardening"): after a restore the event store,
the history tables and the outbox are exactly as they were at the backup (counts and latest ids).
The same test runs on SQLite (online backup API) and, in CI's PostgreSQL run, on pg_dump /
pg_restore."""

import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from activity_feed.models import ActivityEvent, OutboxEvent
from activity_feed.publish import publish
from ocx import backup
from ocx.core.models import Tenant
from tests.factories import TenantFactory

pytestmark = pytest.mark.django_db(transaction=True)

MAGIC = {"sqlite": b"SQLite format 3\x00", "postgresql": b"PGDMP"}


def events(tenant, n, prefix):
    with transaction.atomic():
        return [publish(tenant=tenant, type="test.backup.made", title=f"{prefix} {i}") for i in range(n)]


def test_restore_brings_back_events_history_and_outbox_as_at_the_backup(tmp_path, tenant):
    # given: events (each with its outbox row) and history rows
    kept = events(tenant, 3, "kept")
    tenant.name = "Acme renamed"
    tenant.save()  # a second history row
    path = tmp_path / "ocx.backup"

    call_command("backup", output=path)
    manifest = json.loads(backup.manifest_path(path).read_text())
    # when: the database moves on, then the backup is restored
    events(tenant, 2, "lost")
    TenantFactory(slug="later")
    call_command("restore", path, yes=True)

    # then
    assert path.read_bytes().startswith(MAGIC[connection.vendor])
    restored = backup.snapshot()
    assert restored["counts"] == manifest["counts"]
    assert restored["latest"] == manifest["latest"]
    assert restored["latest"]["activity_feed.ActivityEvent"] == kept[-1].pk
    assert ActivityEvent.objects.all_tenants().count() == 3
    assert OutboxEvent.objects.all_tenants().count() == manifest["counts"]["activity_feed.OutboxEvent"] >= 3
    assert restored["counts"]["ocx.HistoricalTenant"] == 2
    assert not Tenant.objects.filter(slug="later").exists()
    assert Tenant.objects.get(pk=tenant.pk).name == "Acme renamed"


def test_restore_fails_when_the_result_differs_from_the_manifest(tmp_path, tenant):
    events(tenant, 1, "one")
    path = tmp_path / "ocx.backup"
    call_command("backup", output=path)
    manifest = json.loads(backup.manifest_path(path).read_text())
    manifest["latest"]["activity_feed.ActivityEvent"] += 1  # as if an event went missing
    backup.manifest_path(path).write_text(json.dumps(manifest))

    with pytest.raises(CommandError, match="differs from the manifest"):
        call_command("restore", path, yes=True)


def test_restore_needs_yes_and_an_existing_file(tmp_path, db):
    with pytest.raises(CommandError, match="--yes"):
        call_command("restore", tmp_path / "x")
    with pytest.raises(CommandError, match="does not exist"):
        call_command("restore", tmp_path / "x", yes=True)
