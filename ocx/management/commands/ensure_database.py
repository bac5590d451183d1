"""``manage.py ensure_database``: create the PostgreSQL database named in DATABASE_URL if it is
missing (``make run-distributed`` calls it so a fresh server needs no manual step)."""

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the configured PostgreSQL database if it does not exist (no-op on SQLite)."

    def handle(self, *args, **options):
        db = settings.DATABASES["default"]
        if not db["ENGINE"].endswith("postgresql"):
            self.stdout.write("not PostgreSQL: nothing to do")
            return
        import psycopg
        from psycopg import sql

        params = {
            k: v
            for k, v in {
                "host": db.get("HOST"),
                "port": db.get("PORT"),
                "user": db.get("USER"),
                "password": db.get("PASSWORD"),
            }.items()
            if v
        }
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]).fetchone()
            if exists:
                self.stdout.write(f"database {db['NAME']} exists")
                return
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db["NAME"])))
            self.stdout.write(self.style.SUCCESS(f"created database {db['NAME']}"))
