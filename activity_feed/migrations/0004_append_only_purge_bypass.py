"""Tighten the append-only trigger.

* UPDATE: refused when any content column changes. ``user_id`` alone may be cleared, because
  deleting a user account makes Django run ``UPDATE … SET user_id = NULL`` (on_delete=SET_NULL);
  the event keeps ``user_name``.
* DELETE: refused unless the event has expired AND the retention purge is running, i.e. the
  transaction set ``SET LOCAL ocx.purge = 'on'`` (PostgreSQL) or the connection is inside
  ``activity_feed.db.purge_mode()`` (SQLite: the ``ocx_feed_purge()`` function). A stray
  ``DELETE`` of an expired event is refused too: only the beat purge removes events.
"""

from django.db import migrations

from ocx.core.db import VendorRunSQL

CONTENT = (
    "id", "tenant_id", "event_id", "type", "source", "status", "priority", "source_system",
    "source_object_id", "source_object_type", "title", "description", "event_metadata",
    "entity_id", "entity_type", "user_name", "timestamp", "created_at", "expires_at",
    "idempotency_key", "tags", "correlation_id",
)
NEW_ROW = ", ".join(f"NEW.{c}" for c in CONTENT)
OLD_ROW = ", ".join(f"OLD.{c}" for c in CONTENT)

PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION ocx_activity_events_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.expires_at IS NOT NULL AND OLD.expires_at <= now()
           AND coalesce(current_setting('ocx.purge', true), '') = 'on' THEN
            RETURN OLD;
        END IF;
        RAISE EXCEPTION 'activity_events is append-only: event % can only be removed by the retention purge after it expires', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF ROW({NEW_ROW}) IS DISTINCT FROM ROW({OLD_ROW}) THEN
        RAISE EXCEPTION 'activity_events is immutable: event % cannot be updated', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

PG_PREVIOUS = """
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

SQLITE_COLUMNS = ", ".join(c for c in CONTENT)
NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"


class Migration(migrations.Migration):
    dependencies = [("activity_feed", "0003_spine")]

    operations = [
        VendorRunSQL(
            postgresql=[PG_FUNCTION],
            sqlite=[
                "DROP TRIGGER IF EXISTS activity_events_no_update;",
                "DROP TRIGGER IF EXISTS activity_events_no_delete;",
                f"CREATE TRIGGER activity_events_no_update BEFORE UPDATE OF {SQLITE_COLUMNS} ON activity_events "
                "WHEN ocx_guard() = 1 BEGIN SELECT RAISE(ABORT, 'activity_events is immutable: events cannot be updated'); END;",
                # ocx_guard() (ocx.core.db) lifts every guard for test flushes; ocx_feed_purge()
                # (activity_feed.db) is 1 only inside the retention purge.
                "CREATE TRIGGER activity_events_no_delete BEFORE DELETE ON activity_events "
                f"WHEN ocx_guard() = 1 AND NOT (ocx_feed_purge() = 1 AND OLD.expires_at IS NOT NULL AND OLD.expires_at <= {NOW}) "
                "BEGIN SELECT RAISE(ABORT, 'activity_events is append-only: only the retention purge removes expired events'); END;",
            ],
            reverse_postgresql=[PG_PREVIOUS],
            reverse_sqlite=[
                "DROP TRIGGER IF EXISTS activity_events_no_update;",
                "DROP TRIGGER IF EXISTS activity_events_no_delete;",
                "CREATE TRIGGER activity_events_no_update BEFORE UPDATE ON activity_events "
                "WHEN ocx_guard() = 1 BEGIN SELECT RAISE(ABORT, 'activity_events is immutable: events cannot be updated'); END;",
                "CREATE TRIGGER activity_events_no_delete BEFORE DELETE ON activity_events "
                f"WHEN ocx_guard() = 1 AND (OLD.expires_at IS NULL OR OLD.expires_at > {NOW}) "
                "BEGIN SELECT RAISE(ABORT, 'activity_events is append-only: event has not expired'); END;",
            ],
        )
    ]
