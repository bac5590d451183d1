"""Backup and restore of the whole database, in both runtime modes (``manage.py backup`` /
``manage.py restore``).

- embedded (SQLite): SQLite's online backup API (``sqlite3.Connection.backup``) copies a
  consistent snapshot while the server keeps running; restore copies the file back the same way,
  page by page, into the live database.
- distributed (PostgreSQL): ``pg_dump -Fc`` (a consistent snapshot, the server keeps running)
  and ``pg_restore --clean --if-exists --single-transaction``.

Each backup has a manifest beside it (``<file>.json``): row counts of every table and the latest
ids of the event store, the outbox and every history table. ``restore`` compares the restored
database with it and fails when they differ.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.db import connection, connections
from django.db.models import Max

# The spine's tables, whose latest ids say "nothing after this was lost".
EVENT_MODELS = ("activity_feed.ActivityEvent", "activity_feed.OutboxEvent")


class BackupError(RuntimeError):
    pass


def _history_models():
    return [m for m in apps.get_models() if m.__name__.startswith("Historical") and hasattr(m, "history_id")]


def snapshot() -> dict:
    """Row counts of every table, and the latest ids of the event store, outbox and history."""
    counts = {}
    for model in apps.get_models():
        if model._meta.managed and not model._meta.proxy:
            counts[model._meta.label] = model._default_manager.using("default").count()
    latest = {}
    for label in EVENT_MODELS:
        try:
            model = apps.get_model(label)
        except LookupError:
            continue
        latest[label] = model._default_manager.using("default").aggregate(last=Max("pk"))["last"]
    for model in _history_models():
        latest[model._meta.label] = model._default_manager.using("default").aggregate(last=Max("history_id"))["last"]
    return {"counts": counts, "latest": latest}


def default_path(directory: Path | None = None) -> Path:
    directory = directory or Path(settings.VAR_DIR) / "backups"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    suffix = "sqlite3" if connection.vendor == "sqlite" else "dump"
    return directory / f"ocx-{connection.vendor}-{stamp}.{suffix}"


def manifest_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _pg_env() -> tuple[dict, list[str]]:
    db = settings.DATABASES["default"]
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    args = []
    for flag, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if db.get(key):
            args += [flag, str(db[key])]
    return env, args


def _run(command: list[str], env: dict) -> None:
    if shutil.which(command[0]) is None:
        raise BackupError(f"{command[0]} is not installed (PostgreSQL client tools are needed).")
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise BackupError(f"{command[0]} failed: {result.stderr.strip()[-2000:]}")


def backup(path: Path) -> dict:
    """Write a backup of the default database to ``path`` and its manifest; return the manifest."""
    path.parent.mkdir(parents=True, exist_ok=True)
    manifest = {"vendor": connection.vendor, "created_at": datetime.now(UTC).isoformat(), **snapshot()}
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        target = sqlite3.connect(path)
        try:
            # The live connection's database (a file, or the test run's in-memory one), online.
            connection.connection.backup(target)
        finally:
            target.close()
    elif connection.vendor == "postgresql":
        env, args = _pg_env()
        name = connection.settings_dict["NAME"]
        _run(["pg_dump", "-Fc", "--no-owner", "--no-privileges", *args, "--file", str(path), name], env)
    else:  # pragma: no cover - OCX runs on these two
        raise BackupError(f"no backup for {connection.vendor}")
    manifest_path(path).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


def restore(path: Path) -> dict:
    """Replace the default database with the backup at ``path``; return the restored snapshot,
    after checking it against the manifest (when there is one)."""
    if not path.exists():
        raise BackupError(f"{path} does not exist.")
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        source = sqlite3.connect(path)
        try:
            source.backup(connection.connection)
        finally:
            source.close()
    elif connection.vendor == "postgresql":
        name = connection.settings_dict["NAME"]
        connections.close_all()  # pg_restore --clean drops tables: hold no locks on them
        env, args = _pg_env()
        command = ["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction"]
        _run([*command, *args, "--dbname", name, str(path)], env)
    else:  # pragma: no cover
        raise BackupError(f"no restore for {connection.vendor}")
    restored = snapshot()
    manifest_file = manifest_path(path)
    if manifest_file.exists():
        expected = json.loads(manifest_file.read_text())
        for key in ("counts", "latest"):
            if restored[key] != expected[key]:
                differ = {
                    k: (expected[key].get(k), restored[key].get(k))
                    for k in set(expected[key]) | set(restored[key])
                    if expected[key].get(k) != restored[key].get(k)
                }
                raise BackupError(f"restored database differs from the manifest ({key}): {differ}")
    return restored
