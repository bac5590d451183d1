"""``manage.py backup [--output FILE]``: a consistent online backup of the database (both modes),
with a manifest of row counts and latest event / outbox / history ids beside it (``ocx.backup``)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ocx import backup


class Command(BaseCommand):
    help = "Back up the database online (SQLite backup API / pg_dump -Fc), with a manifest beside it."

    def add_arguments(self, parser):
        parser.add_argument(
            "--output", "-o", type=Path, help="backup file (default: var/backups/ocx-<vendor>-<time>.*)"
        )

    def handle(self, *args, output=None, **options):
        path = output or backup.default_path()
        try:
            manifest = backup.backup(path)
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc
        events = manifest["latest"].get("activity_feed.ActivityEvent")
        self.stdout.write(
            f"backup written: {path} (manifest {backup.manifest_path(path).name}; "
            f"{sum(manifest['counts'].values())} rows, latest event id {events})"
        )
