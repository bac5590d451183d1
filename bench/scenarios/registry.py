"""Registry at scale: 10,000 activities, 50,000 deployments, 1,000,000 executions (PostgreSQL).

Targets (issue 3): p95 of ``GET /api/v1/activities`` (30/page), ``GET …/stats`` and
``POST /api/v1/activities`` each under 25 ms at the benchmark's load.

Rows are generated with COPY (history rows are not generated: the benchmark measures reads and a
create, not audit). Each activity has DEV, STAGING and PROD deployments active plus two superseded
PROD ones; executions go to the first 1,000 activities, 1,000 each, with their stats aggregate
filled from them.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

from bench.harness import print_stats, vacuum_analyze

NAME = "registry"
ACTIVITIES, DEPLOYMENTS_PER_ACTIVITY, EXECUTIONS = 10_000, 5, 1_000_000
PREFIX = "BenchActivity_"


def _copy(cursor, table: str, columns: list[str], rows) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _generate(n_activities: int, n_executions: int) -> str:
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction

    from ocx.core.models import Tenant
    from registry.models import Activity

    acme = Tenant.objects.get(slug="acme-corp")
    user = get_user_model().objects.get(username="acme-member")
    admin = get_user_model().objects.get(username="acme-admin")
    existing = Activity.objects.for_tenant(acme).filter(name__startswith=PREFIX).count()
    if existing >= n_activities:
        stats_target = (
            Activity.objects.for_tenant(acme)
            .filter(name__startswith=PREFIX, execution_stats__total_executions__gt=0)
            .values_list("pk", flat=True)
            .first()
        )
        return str(stats_target)
    now = datetime.now(UTC)
    started = time.monotonic()
    activity_ids = [uuid.uuid4() for _ in range(n_activities)]
    categories = ["Procurement", "Finance", "HR", "Compliance", "Sales"]
    with transaction.atomic(), connection.cursor() as cursor:
        raw = cursor.cursor
        _copy(
            raw,
            "activities",
            [
                "activity_id",
                "tenant_id",
                "name",
                "version",
                "version_major",
                "version_minor",
                "version_patch",
                "ebcl_source",
                "owner",
                "authority",
                "description",
                "category",
                "status",
                "created_by_id",
                "review_round",
                "created_at",
                "updated_at",
            ],
            (
                (
                    aid,
                    acme.pk,
                    f"{PREFIX}{i:05d}",
                    "1.0.0",
                    1,
                    0,
                    0,
                    f'ACTIVITY "{PREFIX}{i}"',
                    "Bench Owner",
                    "Bench Policy",
                    "generated",
                    categories[i % 5],
                    "ACTIVE",
                    user.pk,
                    1,
                    now,
                    now,
                )
                for i, aid in enumerate(activity_ids)
            ),
        )
        deployments = []
        for i, aid in enumerate(activity_ids):
            name = f"{PREFIX}{i:05d}"
            prev = None
            for j in range(DEPLOYMENTS_PER_ACTIVITY - 2):
                did = uuid.uuid4()
                deployments.append(
                    (
                        did,
                        acme.pk,
                        aid,
                        name,
                        "PROD",
                        acme.pk,
                        "SUPERSEDED",
                        now - timedelta(days=10 - j),
                        prev,
                        admin.pk,
                        "",
                        now - timedelta(days=10 - j),
                        now - timedelta(days=9 - j),
                        "",
                    )
                )
                prev = did
            for env in ("DEV", "STAGING", "PROD"):
                deployments.append(
                    (
                        uuid.uuid4(),
                        acme.pk,
                        aid,
                        name,
                        env,
                        acme.pk,
                        "ACTIVE",
                        now - timedelta(days=1),
                        prev if env == "PROD" else None,
                        admin.pk,
                        "",
                        now - timedelta(days=1),
                        None,
                        "",
                    )
                )
        _copy(
            raw,
            "activity_deployments",
            [
                "deployment_id",
                "tenant_id",
                "activity_id",
                "activity_name",
                "environment",
                "target_tenant_id",
                "status",
                "effective_from",
                "previous_deployment_id",
                "deployed_by_id",
                "deployment_notes",
                "deployed_at",
                "ended_at",
                "end_reason",
            ],
            deployments,
        )
        prod_by_activity = {row[2]: row[0] for row in deployments if row[6] == "ACTIVE" and row[4] == "PROD"}
        with_executions = activity_ids[:1000]
        per = max(1, n_executions // len(with_executions))

        def execution_rows():
            for k, aid in enumerate(with_executions):
                for m in range(per):
                    yield (
                        uuid.uuid4(),
                        acme.pk,
                        aid,
                        prod_by_activity[aid],
                        "bench-agent",
                        "FAILURE" if (k + m) % 29 == 0 else "SUCCESS",
                        200 + (m * 37) % 800,
                        f"evidence://bench/{k}/{m}",
                        "",
                        now - timedelta(seconds=per - m),
                        user.pk,
                    )

        _copy(
            raw,
            "activity_executions",
            [
                "execution_id",
                "tenant_id",
                "activity_id",
                "deployment_id",
                "agent_id",
                "outcome",
                "duration_ms",
                "evidence_ref",
                "error_message",
                "executed_at",
                "recorded_by_id",
            ],
            execution_rows(),
        )
        cursor.execute(
            """
            INSERT INTO activity_execution_stats (activity_id, total_executions, successful_executions, failed_executions,
                                                  total_duration_ms, last_execution_at)
            SELECT a.activity_id, COALESCE(s.total, 0), COALESCE(s.ok, 0), COALESCE(s.failed, 0), COALESCE(s.duration, 0), s.last
            FROM activities a
            LEFT JOIN (
                SELECT activity_id, count(*) AS total, count(*) FILTER (WHERE outcome = 'SUCCESS') AS ok,
                       count(*) FILTER (WHERE outcome = 'FAILURE') AS failed, sum(duration_ms) AS duration,
                       max(executed_at) AS last
                FROM activity_executions GROUP BY activity_id
            ) s ON s.activity_id = a.activity_id
            WHERE a.name LIKE %s
            ON CONFLICT (activity_id) DO NOTHING
            """,
            [f"{PREFIX}%"],
        )
    vacuum_analyze("activities", "activity_deployments", "activity_executions", "activity_execution_stats")
    print(
        f"  generated {n_activities} activities, {len(deployments)} deployments, {per * len(with_executions)} executions "
        f"in {time.monotonic() - started:.0f} s"
    )
    return str(with_executions[0])


def _remove_created(prefixes=("BenchPost_",)) -> int:
    """Drop the DRAFT activities earlier runs' create load added (~1,000 a run), so every run
    measures the list on the stated data set rather than on a table that grows run by run."""
    from django.db import connection, transaction

    removed = 0
    with transaction.atomic(), connection.cursor() as cursor:
        for prefix in prefixes:
            pattern = prefix.replace("_", "\\_") + "%"
            cursor.execute(
                "CREATE TEMP TABLE doomed ON COMMIT DROP AS "
                "SELECT activity_id FROM activities WHERE name LIKE %s AND status = 'DRAFT'",
                [pattern],
            )
            cursor.execute("DELETE FROM activity_versions WHERE activity_id IN (SELECT activity_id FROM doomed)")
            cursor.execute("DELETE FROM activity_execution_stats WHERE activity_id IN (SELECT activity_id FROM doomed)")
            cursor.execute(
                "DELETE FROM registry_historicalactivity WHERE activity_id IN (SELECT activity_id FROM doomed)"
            )
            cursor.execute("DELETE FROM activities WHERE activity_id IN (SELECT activity_id FROM doomed)")
            removed += cursor.rowcount
            cursor.execute("DROP TABLE doomed")
    vacuum_analyze("activities", "activity_versions", "activity_execution_stats")
    return removed


def run(ctx) -> dict:
    n_activities = 1_000 if ctx.quick else ACTIVITIES
    n_executions = 50_000 if ctx.quick else EXECUTIONS
    removed = _remove_created()
    if removed:
        print(f"  removed {removed} activities an earlier run's create load added")
    stats_id = _generate(n_activities, n_executions)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM activities")
        activities = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM activity_deployments")
        deployments = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM activity_executions")
        executions = cursor.fetchone()[0]
    print(f"  in the database: {activities} activities, {deployments} deployments, {executions} executions")
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    baseline = ctx.load("/api/v1/ping")
    listing = ctx.load("/api/v1/activities?page_size=30", user="acme-viewer")
    stats = ctx.load(f"/api/v1/activities/{stats_id}/stats", user="acme-viewer")
    body = (
        '{"name": "BenchPost_' + stamp + '_{n}", "version": "1.0.0", "ebcl_source": "ACTIVITY x", '
        '"owner": "Bench", "category": "Bench"}'
    )
    create = ctx.load("/api/v1/activities", method="POST", body=body, user="acme-member")
    print_stats("GET /api/v1/ping (baseline)", baseline)
    print_stats("GET /api/v1/activities (30/page)", listing)
    print_stats("GET /api/v1/activities/{id}/stats", stats)
    print_stats("POST /api/v1/activities", create)
    target = 25.0
    verdict = {name: r["p95_ms"] < target for name, r in (("list", listing), ("stats", stats), ("create", create))}
    print(f"  p95 < {target} ms: {verdict}")
    return {
        "rows": {"activities": activities, "deployments": deployments, "executions": executions},
        "baseline": baseline,
        "list": listing,
        "stats": stats,
        "create": create,
        "target_p95_ms": target,
        "meets_target": verdict,
    }
