"""Published workflow template versions are frozen, enforced by the database: a raw UPDATE of a
published template's content (or status), a DELETE of one, and any INSERT, UPDATE or DELETE of
its phases, activity templates or dependencies fails. Running instances stay pinned to exactly
what they started on; changes go through a new draft version."""

from django.db import migrations

from ocx.core.db import VendorRunSQL

CONTENT = ("name", "version", "description", "status", "compensate_on_failure", "default_context", "tenant_id")
PARTS = ("workflow_phase_templates", "workflow_activity_templates")

PG_TEMPLATE = f"""
CREATE OR REPLACE FUNCTION ocx_wf_template_immutable() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        IF OLD.status = 'published' THEN
            RAISE EXCEPTION 'workflow template % v% is published and cannot be deleted', OLD.name, OLD.version
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN OLD;
    END IF;
    IF OLD.status = 'published' AND ({" OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in CONTENT)}) THEN
        RAISE EXCEPTION 'workflow template % v% is published and immutable; create a new version', OLD.name, OLD.version
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

PG_PART = """
CREATE OR REPLACE FUNCTION ocx_wf_template_part_immutable() RETURNS trigger AS $$
DECLARE
    ids bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN ids := ARRAY[NEW.template_id];
    ELSIF TG_OP = 'DELETE' THEN ids := ARRAY[OLD.template_id];
    ELSE ids := ARRAY[NEW.template_id, OLD.template_id];
    END IF;
    IF EXISTS (SELECT 1 FROM workflow_templates WHERE id = ANY(ids) AND status = 'published') THEN
        RAISE EXCEPTION 'the template of this % row is published and immutable', TG_TABLE_NAME
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

PG_DEPENDENCY = """
CREATE OR REPLACE FUNCTION ocx_wf_dependency_immutable() RETURNS trigger AS $$
DECLARE
    ids bigint[];
BEGIN
    IF TG_OP = 'INSERT' THEN ids := ARRAY[NEW.activity_id];
    ELSIF TG_OP = 'DELETE' THEN ids := ARRAY[OLD.activity_id];
    ELSE ids := ARRAY[NEW.activity_id, OLD.activity_id];
    END IF;
    IF EXISTS (
        SELECT 1 FROM workflow_activity_templates a JOIN workflow_templates t ON t.id = a.template_id
        WHERE a.id = ANY(ids) AND t.status = 'published'
    ) THEN
        RAISE EXCEPTION 'the template of this dependency is published and immutable'
            USING ERRCODE = 'restrict_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
"""

SQLITE_CHANGED = " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in CONTENT)
PUBLISHED = "(SELECT status FROM workflow_templates WHERE id = {ref}) = 'published'"
DEP_PUBLISHED = (
    "(SELECT t.status FROM workflow_activity_templates a JOIN workflow_templates t ON t.id = a.template_id "
    "WHERE a.id = {ref}) = 'published'"
)
ABORT = "BEGIN SELECT RAISE(ABORT, 'workflow template is published and immutable; create a new version'); END;"


def _sqlite_parts() -> list[str]:
    statements = []
    for table in PARTS:
        statements += [
            f"CREATE TRIGGER {table}_frozen_insert BEFORE INSERT ON {table} "
            f"WHEN ocx_guard() = 1 AND {PUBLISHED.format(ref='NEW.template_id')} {ABORT}",
            f"CREATE TRIGGER {table}_frozen_update BEFORE UPDATE ON {table} "
            f"WHEN ocx_guard() = 1 AND ({PUBLISHED.format(ref='NEW.template_id')} OR {PUBLISHED.format(ref='OLD.template_id')}) {ABORT}",
            f"CREATE TRIGGER {table}_frozen_delete BEFORE DELETE ON {table} "
            f"WHEN ocx_guard() = 1 AND {PUBLISHED.format(ref='OLD.template_id')} {ABORT}",
        ]
    table = "workflow_activity_dependencies"
    statements += [
        f"CREATE TRIGGER {table}_frozen_insert BEFORE INSERT ON {table} "
        f"WHEN ocx_guard() = 1 AND {DEP_PUBLISHED.format(ref='NEW.activity_id')} {ABORT}",
        f"CREATE TRIGGER {table}_frozen_update BEFORE UPDATE ON {table} "
        f"WHEN ocx_guard() = 1 AND ({DEP_PUBLISHED.format(ref='NEW.activity_id')} OR {DEP_PUBLISHED.format(ref='OLD.activity_id')}) {ABORT}",
        f"CREATE TRIGGER {table}_frozen_delete BEFORE DELETE ON {table} "
        f"WHEN ocx_guard() = 1 AND {DEP_PUBLISHED.format(ref='OLD.activity_id')} {ABORT}",
    ]
    return statements


SQLITE_TRIGGERS = [
    "CREATE TRIGGER workflow_templates_frozen_update BEFORE UPDATE ON workflow_templates "
    f"WHEN ocx_guard() = 1 AND OLD.status = 'published' AND ({SQLITE_CHANGED}) {ABORT}",
    "CREATE TRIGGER workflow_templates_frozen_delete BEFORE DELETE ON workflow_templates "
    f"WHEN ocx_guard() = 1 AND OLD.status = 'published' {ABORT}",
    *_sqlite_parts(),
]
SQLITE_NAMES = ["workflow_templates_frozen_update", "workflow_templates_frozen_delete"] + [
    f"{t}_frozen_{op}" for t in (*PARTS, "workflow_activity_dependencies") for op in ("insert", "update", "delete")
]


class Migration(migrations.Migration):
    dependencies = [("workflow", "0005_engine")]

    operations = [
        VendorRunSQL(
            postgresql=[
                PG_TEMPLATE,
                PG_PART,
                PG_DEPENDENCY,
                "CREATE TRIGGER workflow_templates_immutable BEFORE UPDATE OR DELETE ON workflow_templates "
                "FOR EACH ROW EXECUTE FUNCTION ocx_wf_template_immutable();",
                *[
                    f"CREATE TRIGGER {t}_immutable BEFORE INSERT OR UPDATE OR DELETE ON {t} "
                    "FOR EACH ROW EXECUTE FUNCTION ocx_wf_template_part_immutable();"
                    for t in PARTS
                ],
                "CREATE TRIGGER workflow_activity_dependencies_immutable BEFORE INSERT OR UPDATE OR DELETE "
                "ON workflow_activity_dependencies FOR EACH ROW EXECUTE FUNCTION ocx_wf_dependency_immutable();",
            ],
            sqlite=SQLITE_TRIGGERS,
            reverse_postgresql=[
                "DROP TRIGGER IF EXISTS workflow_templates_immutable ON workflow_templates;",
                *[f"DROP TRIGGER IF EXISTS {t}_immutable ON {t};" for t in PARTS],
                "DROP TRIGGER IF EXISTS workflow_activity_dependencies_immutable ON workflow_activity_dependencies;",
                "DROP FUNCTION IF EXISTS ocx_wf_template_immutable();",
                "DROP FUNCTION IF EXISTS ocx_wf_template_part_immutable();",
                "DROP FUNCTION IF EXISTS ocx_wf_dependency_immutable();",
            ],
            reverse_sqlite=[f"DROP TRIGGER IF EXISTS {name};" for name in SQLITE_NAMES],
        )
    ]
