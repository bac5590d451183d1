"""``manage.py restore FILE --yes``: replace the database with a backup made by ``manage.py backup``
and check the result against its manifest (row counts, latest event / outbox / history ids).

Stop the web server, the workers and beat first: the restore replaces every table."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ocx import backup


class Command(BaseCommand):
    help = "Restore the database from a backup (SQLite backup API / pg_restore) and verify it against its manifest."

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--yes", action="store_true", help="really replace the current database")

    def handle(self, *args, path, yes=False, **options):
        if not yes:
            raise CommandError("restore replaces the whole database: stop OCX's processes and pass --yes.")
        try:
            restored = backup.restore(path)
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc
        events = restored["latest"].get("activity_feed.ActivityEvent")
        checked = "matches its manifest" if backup.manifest_path(path).exists() else "no manifest to compare"
        self.stdout.write(
            f"restored {path}: {sum(restored['counts'].values())} rows, latest event id {events} ({checked})"
        )
