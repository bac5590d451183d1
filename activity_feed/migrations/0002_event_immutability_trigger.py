"""Events are append-only, enforced by the database: a raw UPDATE fails, and so does a DELETE
of an event that has not expired (the retention purge deletes expired ones only)."""

from django.db import migrations

from ocx.core.db import VendorRunSQL

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION ocx_activity_events_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.expires_at IS NOT NULL AND OLD.expires_at <= now() THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'activity_events is append-only: event % has not expired', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    RAISE EXCEPTION 'activity_events is immutable: event % cannot be updated', OLD.id
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
"""


class Migration(migrations.Migration):
    dependencies = [("activity_feed", "0001_initial")]

    operations = [
        VendorRunSQL(
            postgresql=[
                PG_FUNCTION,
                "CREATE TRIGGER activity_events_append_only BEFORE UPDATE OR DELETE ON activity_events "
                "FOR EACH ROW EXECUTE FUNCTION ocx_activity_events_append_only();",
            ],
            sqlite=[
                "CREATE TRIGGER activity_events_no_update BEFORE UPDATE ON activity_events "
                "WHEN ocx_guard() = 1 BEGIN SELECT RAISE(ABORT, 'activity_events is immutable: events cannot be updated'); END;",
                # ocx_guard() is registered on every Django connection (ocx.core.db); see there.
                # Django stores datetimes as 'YYYY-MM-DD HH:MM:SS[.ffffff]' text, which compares
                # correctly with datetime('now') as text.
                "CREATE TRIGGER activity_events_no_delete BEFORE DELETE ON activity_events "
                "WHEN ocx_guard() = 1 AND (OLD.expires_at IS NULL OR OLD.expires_at > strftime('%Y-%m-%d %H:%M:%f', 'now')) "
                "BEGIN SELECT RAISE(ABORT, 'activity_events is append-only: event has not expired'); END;",
            ],
            reverse_postgresql=[
                "DROP TRIGGER IF EXISTS activity_events_append_only ON activity_events;",
                "DROP FUNCTION IF EXISTS ocx_activity_events_append_only();",
            ],
            reverse_sqlite=[
                "DROP TRIGGER IF EXISTS activity_events_no_update;",
                "DROP TRIGGER IF EXISTS activity_events_no_delete;",
            ],
        )
    ]
