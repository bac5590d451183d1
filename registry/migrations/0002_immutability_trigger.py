"""Approved activities are frozen, enforced by the database: a raw UPDATE of a content field of
an activity in APPROVED or a later status fails, and so does a DELETE of one. Status changes
(the lifecycle) stay allowed; content changes go through a new version."""

from django.db import migrations

from ocx.core.db import VendorRunSQL

FROZEN = "('APPROVED', 'DEPLOYED', 'ACTIVE', 'SUSPENDED', 'RETIRED')"
CONTENT = ("name", "version", "ebcl_source", "owner", "authority", "description", "category", "tenant_id", "created_by_id")

PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION ocx_activities_immutable() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status IN {FROZEN} THEN
            RAISE EXCEPTION 'activity % is % and cannot be deleted', OLD.activity_id, OLD.status
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status IN {FROZEN} AND ({" OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in CONTENT)}) THEN
        RAISE EXCEPTION 'activity % is % and its content is immutable; create a new version', OLD.activity_id, OLD.status
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

SQLITE_CHANGED = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in CONTENT)


class Migration(migrations.Migration):
    dependencies = [("registry", "0001_initial")]

    operations = [
        VendorRunSQL(
            postgresql=[
                PG_FUNCTION,
                "CREATE TRIGGER activities_immutable BEFORE UPDATE OR DELETE ON activities "
                "FOR EACH ROW EXECUTE FUNCTION ocx_activities_immutable();",
            ],
            sqlite=[
                # ocx_guard() is registered on every Django connection (ocx.core.db).
                f"CREATE TRIGGER activities_immutable_update BEFORE UPDATE ON activities "
                f"WHEN ocx_guard() = 1 AND OLD.status IN {FROZEN} AND ({SQLITE_CHANGED}) "
                f"BEGIN SELECT RAISE(ABORT, 'activity content is immutable once approved; create a new version'); END;",
                f"CREATE TRIGGER activities_immutable_delete BEFORE DELETE ON activities "
                f"WHEN ocx_guard() = 1 AND OLD.status IN {FROZEN} "
                f"BEGIN SELECT RAISE(ABORT, 'an approved or deployed activity cannot be deleted'); END;",
            ],
            reverse_postgresql=[
                "DROP TRIGGER IF EXISTS activities_immutable ON activities;",
                "DROP FUNCTION IF EXISTS ocx_activities_immutable();",
            ],
            reverse_sqlite=[
                "DROP TRIGGER IF EXISTS activities_immutable_update;",
                "DROP TRIGGER IF EXISTS activities_immutable_delete;",
            ],
        )
    ]
