"""Set-based paths: agents' batch claims and the lease / deadline sweep.

Both move many runs with one statement (``ocx.core.db.claim_due_rows``: ``UPDATE … FROM (SELECT
… FOR UPDATE SKIP LOCKED) RETURNING`` on PostgreSQL, a conditional claim-by-update on SQLite),
so concurrent claimers split the pending runs instead of waiting for (or doubling) each other,
and the sweep never double-settles a run. The SQL sets exactly what the model's transition
methods set (``Run.start``, ``requeue``, ``fail``, ``time_out``, ``cancel``); in the same
transaction the history rows, the events and the counters are written in bulk, and the
registry execution of every run that ended after it started is recorded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from time import monotonic

from django.conf import settings
from django.db import connection, connections, router
from django.utils import timezone

from activity_feed.services import events_bulk_create
from ocx.core.access import Perm
from ocx.core.db import Due, claim_due_rows
from ocx.core.models import Tenant
from ocx.core.services import service
from registry import selectors as registry_selectors
from runs import wakeup
from runs.models import ErrorType, Execution, Run, RunStatus
from runs.selectors import is_uuid
from runs.services import counters
from runs.services.common import deadline_after, dispatch_on_commit, new_token, record_execution, require, run_draft

logger = logging.getLogger(__name__)
MAX_CLAIM = 100
MAX_WAIT_SECONDS = 30
S, AGENT = RunStatus, Execution.AGENT
# A fresh lease token per claimed row, made by the database.
_TOKEN_SQL = {"postgresql": "gen_random_uuid()", "sqlite": "lower(hex(randomblob(16)))"}
# Pending agent runs an agent may take now; statuses are literals so the planner matches the
# partial indexes, and each branch is an ordered scan of one (run_claim_topic_idx / _any_idx).
_CLAIMABLE = (
    f"tenant_id = %(tenant)s AND status = '{S.PENDING}' AND execution = '{AGENT}' AND available_at <= %(now)s "
    "AND (deadline IS NULL OR deadline > %(now)s) AND attempt < max_attempts"
)
_CLAIM_ORDER = "priority DESC, created_at, id"


def _claim_branches(topics: list[str]) -> list[Due]:
    if not topics:
        return [Due(where=_CLAIMABLE, order=_CLAIM_ORDER)]
    return [Due(where=f"{_CLAIMABLE} AND work_unit_id = %(topic_{i})s", order=_CLAIM_ORDER) for i in range(len(topics))]


_RUN_FIELDS = tuple(f.name for f in Run._meta.concrete_fields)


def _runs_from_rows(rows, *, vendor: str) -> list[Run]:
    """``Run`` instances from raw rows of every concrete column (in ``_RUN_FIELDS`` order),
    converted as the ORM converts what it reads (JSON text, SQLite's UUID hex and booleans)."""
    connection = connections[router.db_for_write(Run)]
    steps = []  # (position, Col expression, converters) of the columns that have any
    for i, field in enumerate(Run._meta.concrete_fields):
        col = field.get_col(Run._meta.db_table)
        converters = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
        if converters:
            steps.append((i, col, converters))
    attnames = [f.attname for f in Run._meta.concrete_fields]
    runs = []
    for row in rows:
        values = list(row)
        for i, col, converters in steps:
            for convert in converters:
                values[i] = convert(values[i], col, connection)
        runs.append(Run.from_db(connection.alias, attnames, values))
    return runs


def resolve_topics(*, tenant, work_unit: str | None, topics: list[str] | None) -> list[str]:
    """Work unit ids (activity names) to claim: each given as a name, or an activity UUID."""
    names: list[str] = []
    for value in [*(topics or []), *([work_unit] if work_unit else [])]:
        value = str(value).strip()
        if not value:
            continue
        activity = registry_selectors.activity_for_work_unit(tenant=tenant, work_unit=value) if is_uuid(value) else None
        name = activity.name if activity is not None else value
        if name not in names:
            names.append(name)
    return names


@service
def runs_claim(
    *,
    tenant,
    actor,
    worker_id: str,
    topics: list[str] | None = None,
    max_runs: int = 1,
    lease_seconds: int | None = None,
) -> list[Run]:
    """Hand up to ``max_runs`` pending agent runs (of ``topics``, else any work unit) to
    ``worker_id``, highest priority first then oldest: each gets its next attempt number and a
    fresh lease token, and no other claimer gets it."""
    require(actor, tenant, Perm.RECORD_EXECUTION)
    tenant_id = getattr(tenant, "pk", tenant)
    topics = list(topics or [])
    now = timezone.now()
    lease_seconds = lease_seconds or settings.OCX_RUNS_LEASE_SECONDS
    vendor = connections[router.db_for_write(Run)].vendor
    rows = claim_due_rows(
        Run,
        due=_claim_branches(topics),
        set_sql=(
            f"status = '{S.RUNNING}', attempt = attempt + 1, lease_token = {_TOKEN_SQL[vendor]}, "
            "lease_expires_at = %(lease_until)s, lease_seconds = %(lease_seconds)s, worker_id = %(worker)s, "
            "started_at = %(now)s, heartbeat_at = NULL, updated_at = %(now)s"
        ),
        params={
            "tenant": tenant_id,
            "now": now,
            "lease_until": now + timedelta(seconds=lease_seconds),
            "lease_seconds": lease_seconds,
            "worker": worker_id[:200],
            **{f"topic_{i}": t for i, t in enumerate(topics)},
        },
        limit=max(1, min(int(max_runs), MAX_CLAIM)),
        returning=_RUN_FIELDS,
    )
    if not rows:
        return []
    # The claimed rows as the statement left them (RETURNING every column): no second read.
    runs = sorted(_runs_from_rows(rows, vendor=vendor), key=lambda r: (-r.priority, r.created_at, r.pk))
    tenant_obj = tenant if isinstance(tenant, Tenant) else Tenant.objects.get(pk=tenant_id)
    _written(runs, tenant=tenant_obj, verb="started", actor=actor, reason=f"claimed by {worker_id}")
    counters.moved(runs, source=S.PENDING, target=S.RUNNING)
    return runs


def runs_claim_wait(
    *,
    tenant,
    actor,
    worker_id: str,
    topics: list[str] | None = None,
    max_runs: int = 1,
    lease_seconds: int | None = None,
    wait_seconds: float = 0,
) -> list[Run]:
    """``runs_claim``, long-polling up to ``wait_seconds`` (≤ 30): it returns as soon as a run is
    claimed. While nothing is claimable it sleeps on the tenant's wake-up (``runs.wakeup``),
    holding no database connection, and claims again when woken or every
    ``OCX_RUNS_CLAIM_RECHECK_SECONDS``: an idle poll costs one claim statement per re-check."""
    claim = {"tenant": tenant, "actor": actor, "worker_id": worker_id, "topics": topics, "max_runs": max_runs,
             "lease_seconds": lease_seconds}  # fmt: skip
    wait_seconds = max(0.0, min(float(wait_seconds or 0), MAX_WAIT_SECONDS))
    if not wait_seconds:
        return runs_claim(**claim)
    deadline = monotonic() + wait_seconds
    with wakeup.listen(getattr(tenant, "pk", tenant), list(topics or [])) as listener:
        while True:
            runs = runs_claim(**claim)
            remaining = deadline - monotonic()
            if runs or remaining <= 0:
                return runs
            if not connection.in_atomic_block:
                connection.close()  # back to the pool while we wait (reopened by the next claim)
            listener.wait(min(remaining, settings.OCX_RUNS_CLAIM_RECHECK_SECONDS))


# --- the sweep --------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Sweep:
    name: str
    due: Due
    set_sql: str
    source: str
    target: str
    verb: str
    reason: str
    records: bool  # runs that ended record their registry execution


_EXPIRED = f"status = '{S.RUNNING}' AND lease_expires_at < %(now)s"
_RELEASE = "lease_token = NULL, lease_expires_at = NULL, updated_at = %(now)s"
SWEEPS = (
    # A run whose cancellation was requested and whose executor went silent: cancelled.
    _Sweep(
        "cancelled",
        Due(where=f"{_EXPIRED} AND cancel_requested", order="lease_expires_at"),
        f"status = '{S.CANCELLED}', completed_at = %(now)s, error_type = '{ErrorType.CANCELLED}', {_RELEASE}",
        S.RUNNING, S.CANCELLED, "cancelled", "lease expired after cancellation was requested", True,
    ),
    # Attempts left: offered again at once (its checkpoint goes to the next attempt).
    _Sweep(
        "reoffered",
        Due(where=f"{_EXPIRED} AND NOT cancel_requested AND attempt < max_attempts", order="lease_expires_at"),
        f"status = '{S.PENDING}', available_at = %(now)s, error = 'The lease of attempt ' || attempt || ' expired.', "
        f"error_type = '{ErrorType.LEASE_EXPIRED}', {_RELEASE}",
        S.RUNNING, S.PENDING, "requeued", "lease expired: offered again", False,
    ),
    # The last attempt's lease expired: failed.
    _Sweep(
        "lease_expired",
        Due(where=f"{_EXPIRED} AND NOT cancel_requested AND attempt >= max_attempts", order="lease_expires_at"),
        f"status = '{S.FAILED}', completed_at = %(now)s, "
        "error = 'The lease of the last attempt (' || attempt || ' of ' || max_attempts || ') expired.', "
        f"error_type = '{ErrorType.LEASE_EXPIRED}', {_RELEASE}",
        S.RUNNING, S.FAILED, "failed", "lease of the last attempt expired", True,
    ),
    # Nobody started it in time.
    _Sweep(
        "schedule_to_start",
        Due(where=f"status = '{S.PENDING}' AND deadline IS NOT NULL AND deadline < %(now)s", order="deadline"),
        f"status = '{S.FAILED}', completed_at = %(now)s, "
        "error = 'The run waited in pending past its schedule-to-start timeout.', "
        f"error_type = '{ErrorType.SCHEDULE_TO_START_TIMEOUT}', updated_at = %(now)s",
        S.PENDING, S.FAILED, "failed", "schedule-to-start timeout", True,
    ),
)  # fmt: skip


@dataclass
class SettleResult:
    cancelled: int = 0
    reoffered: int = 0
    lease_expired: int = 0
    schedule_to_start: int = 0

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in ("cancelled", "reoffered", "lease_expired", "schedule_to_start")}


def runs_settle(*, now: datetime | None = None, batch_size: int = 500, max_batches: int = 20) -> SettleResult:
    """Beat job: settle every run whose lease expired or whose schedule-to-start deadline
    passed, ``batch_size`` at a time, each batch in its own transaction. Idempotent: two sweeps
    at once split the rows, and a run is settled once."""
    result = SettleResult()
    for sweep in SWEEPS:
        for _ in range(max_batches):
            settled = _settle_batch(sweep=sweep, now=now or timezone.now(), limit=batch_size, actor=None)
            setattr(result, sweep.name, getattr(result, sweep.name) + settled)
            if settled < batch_size:
                break
    return result


@service
def _settle_batch(*, sweep: _Sweep, now: datetime, limit: int, actor=None) -> int:
    rows = claim_due_rows(Run, due=[sweep.due], set_sql=sweep.set_sql, params={"now": now}, limit=limit)
    if not rows:
        return 0
    runs = list(Run.objects.all_tenants().filter(pk__in=[r[0] for r in rows]).order_by("tenant_id", "created_at"))
    for run in runs:
        if sweep.target == S.PENDING:  # Run.requeue: a fresh deadline from now, a new task id
            run.deadline = deadline_after(now, run.schedule_to_start_timeout)
            if run.execution == Execution.IN_PROCESS:
                run.celery_task_id = str(new_token())
        elif run.started_at is not None:  # Run._release: how long the last attempt ran
            run.duration_ms = max(0, int((now - run.started_at).total_seconds() * 1000))
            if sweep.records:
                run.execution_id = record_execution(run, outcome="FAILURE", at=now, actor=actor)
    # Columns the statement could not compute portably (interval arithmetic), in one UPDATE.
    changed = ["deadline", "celery_task_id"] if sweep.target == S.PENDING else ["duration_ms", "execution_id"]
    Run.objects.all_tenants().bulk_update(runs, changed)
    tenants = Tenant.objects.in_bulk({r.tenant_id for r in runs})
    for tenant_id in sorted(tenants):
        _written([r for r in runs if r.tenant_id == tenant_id], tenant=tenants[tenant_id], verb=sweep.verb,
                 actor=actor, reason=sweep.reason)  # fmt: skip
    counters.moved(runs, source=sweep.source, target=sweep.target)
    if sweep.target == S.PENDING:
        dispatch_on_commit(runs)
    logger.info("runs sweep %s: %d runs", sweep.name, len(runs))
    return len(runs)


def _written(runs: list[Run], *, tenant: Tenant, verb: str, actor, reason: str) -> None:
    """History rows and events of runs a statement moved (what fsm_transition does for one)."""
    user = actor if getattr(actor, "pk", None) else None
    history_copy(runs, reason=reason, user_id=user.pk if user else None, at=timezone.now())
    user_name = user.get_username() if user else ""
    events_bulk_create(tenant=tenant, drafts=[run_draft(r, verb, user_name=user_name) for r in runs])


def history_copy(runs: list[Run], *, reason: str, user_id, at: datetime) -> None:
    """One ``~`` history row per run, copied from its row by the database in one ``INSERT …
    SELECT`` (what ``bulk_history_create`` writes, without building a model instance per row:
    on a 50-run claim that was most of the request's Python time). The runs' rows must be
    written already (they are, by the statement that moved them)."""
    if not runs:
        return
    history = Run.history.model
    connection = connections[router.db_for_write(history)]
    quote = connection.ops.quote_name
    tracked = [f.column for f in history._meta.concrete_fields if not f.name.startswith("history_")]
    columns = ", ".join(quote(c) for c in [*tracked, "history_date", "history_change_reason", "history_type",
                                            "history_user_id"])  # fmt: skip
    source = ", ".join(quote(c) for c in tracked)
    ids = [Run._meta.pk.get_db_prep_value(r.pk, connection) for r in runs]
    marks = ", ".join(["%s"] * len(ids))
    sql = (
        f"INSERT INTO {quote(history._meta.db_table)} ({columns}) "
        f"SELECT {source}, %s, %s, '~', %s FROM {quote(Run._meta.db_table)} WHERE {quote('id')} IN ({marks})"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [connection.ops.adapt_datetimefield_value(at), reason, user_id, *ids])
