"""SLA clocks: started with the task, paused while blocked, stopped on completion or cancellation,
and the beat scan that marks breaches (and at-risk warnings) exactly once.

The scan is set-based: one claim (``ocx.core.db.claim_due_rows``: ``UPDATE … WHERE status =
'running' AND due_at < now … RETURNING`` over a partial index, ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so two concurrent scans split the rows instead of both taking them) takes the newly
breached records. Only the rows an UPDATE returned get an event, so a breach is announced
once however many scans run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from ocx.core import errors
from ocx.core.access import Perm, has_perm
from ocx.core.db import Due, claim_due_rows
from workflow import conf
from workflow.metrics import SLA_BREACHED
from workflow.models import SLAConfig, SLARecord, SLAStatus, Task, TaskState

logger = logging.getLogger(__name__)


# --- configuration --------------------------------------------------------------------------
def sla_config_for(*, tenant_id: int, task_type: str, service_area: str = "") -> SLAConfig | None:
    """The active configuration for a task: its own type before ``general``, the tenant's row
    before the global default, a matching service area before any other."""
    candidates = list(
        SLAConfig.objects.filter(active=True, task_type__in={task_type, "general"}).filter(
            Q(tenant_id=tenant_id) | Q(tenant__isnull=True)
        )
    )
    if not candidates:
        return None

    def score(config: SLAConfig) -> tuple:
        return (
            config.task_type == task_type,
            config.tenant_id is not None,
            config.service_area == (service_area or task_type),
            -config.id,
        )

    return max(candidates, key=score)


def _require_manage(actor, tenant) -> None:
    if actor is not None and not has_perm(actor, tenant, Perm.MANAGE_SLA):
        raise errors.PermissionDenied(details={"required_permission": Perm.MANAGE_SLA})


def _check_config(*, target_minutes, at_risk_fraction) -> None:
    if target_minutes is not None and int(target_minutes) <= 0:
        raise errors.ValidationError("target_minutes must be positive.", details={"target_minutes": target_minutes})
    if at_risk_fraction is not None and not 0 < float(at_risk_fraction) < 1:
        raise errors.ValidationError(
            "at_risk_fraction must be between 0 and 1.", details={"at_risk_fraction": at_risk_fraction}
        )


def sla_config_create(
    *,
    tenant,
    actor,
    service_area: str,
    task_type: str,
    target_minutes: int,
    active: bool = True,
    at_risk_fraction: float | None = None,
) -> SLAConfig:
    """A tenant's SLA target for a service area and task type (MANAGE_SLA); overrides the global default."""
    _require_manage(actor, tenant)
    _check_config(target_minutes=target_minutes, at_risk_fraction=at_risk_fraction)
    tenant_id = getattr(tenant, "pk", tenant)
    try:
        with transaction.atomic():
            return SLAConfig.objects.create(
                tenant_id=tenant_id,
                service_area=service_area,
                task_type=task_type,
                target_minutes=target_minutes,
                active=active,
                at_risk_fraction=at_risk_fraction,
                created_by=actor if getattr(actor, "pk", None) else None,
            )
    except IntegrityError:  # the unique constraint decides, also under concurrent requests
        raise errors.Conflict(
            "An SLA configuration for this service area and task type exists already.",
            details={"service_area": service_area, "task_type": task_type},
        ) from None


UPDATABLE = ("target_minutes", "active", "at_risk_fraction", "service_area", "task_type")


def sla_config_update(*, tenant, actor, config_id: int, **changes) -> SLAConfig:
    """Change a tenant's configuration (MANAGE_SLA). Running clocks keep the target they started with."""
    _require_manage(actor, tenant)
    _check_config(target_minutes=changes.get("target_minutes"), at_risk_fraction=changes.get("at_risk_fraction"))
    with transaction.atomic():
        config = (
            SLAConfig.objects.select_for_update().filter(pk=config_id, tenant_id=getattr(tenant, "pk", tenant)).first()
        )
        if config is None:
            raise errors.NotFound("SLA configuration not found (global defaults are changed in the admin).")
        fields = [name for name in UPDATABLE if name in changes]
        for name in fields:
            setattr(config, name, changes[name])
        try:
            with transaction.atomic():
                config.save(update_fields=[*fields, "updated_at"])
        except IntegrityError:
            raise errors.Conflict(
                "An SLA configuration for this service area and task type exists already.",
                details={"service_area": config.service_area, "task_type": config.task_type},
            ) from None
    return config


def sla_config_delete(*, tenant, actor, config_id: int) -> None:
    """Remove a tenant's configuration (MANAGE_SLA); records keep their copied target."""
    _require_manage(actor, tenant)
    deleted, _ = SLAConfig.objects.filter(pk=config_id, tenant_id=getattr(tenant, "pk", tenant)).delete()
    if not deleted:
        raise errors.NotFound("SLA configuration not found (global defaults are changed in the admin).")


# --- the clock ------------------------------------------------------------------------------
def sla_start(*, task: Task, at: datetime) -> SLARecord | None:
    """Start the task's clock from its configuration (no configuration: no SLA)."""
    config = sla_config_for(tenant_id=task.tenant_id, task_type=task.task_type, service_area=task.service_area)
    if config is None:
        return None
    fraction = config.at_risk_fraction or conf.sla_at_risk_fraction()
    target = timedelta(minutes=config.target_minutes)
    return SLARecord.objects.create(
        tenant_id=task.tenant_id,
        task=task,
        sla_config=config,
        target_minutes=config.target_minutes,
        status=SLAStatus.RUNNING,
        started_at=at,
        due_at=at + target,
        at_risk_at=at + target * fraction,
    )


def _elapsed_minutes(record: SLARecord, at: datetime) -> float:
    return round(max((at - record.started_at).total_seconds() - record.paused_seconds, 0) / 60, 2)


def _resume(record: SLARecord, at: datetime) -> None:
    paused = max(int((at - record.paused_at).total_seconds()), 0)
    record.paused_seconds += paused
    record.due_at += timedelta(seconds=paused)
    record.at_risk_at += timedelta(seconds=paused)
    record.paused_at = None


def _moves_clock(source: str, target: str) -> bool:
    return source == TaskState.BLOCKED or target in (TaskState.BLOCKED, TaskState.COMPLETED, TaskState.CANCELLED)


def sla_on_transition(*, task: Task, source: str, target: str, at: datetime) -> SLARecord | None:
    """Blocked pauses the clock, leaving blocked resumes it (the deadline moves by the pause),
    completed stops it (met, or breached if late), cancelled stops it without a verdict."""
    if not _moves_clock(source, target):
        return None  # new → in_progress: the clock runs on, nothing to read or write
    record = SLARecord.objects.for_tenant(task.tenant_id).select_for_update().filter(task_id=task.pk).first()
    if record is None:
        return None
    fields: list[str] = []
    if record.status == SLAStatus.BREACHED:
        # The verdict is final; only the end of the work is still recorded.
        if target in (TaskState.COMPLETED, TaskState.CANCELLED) and record.completed_at is None:
            record.completed_at = at
            record.actual_minutes = _elapsed_minutes(record, at)
            fields = ["completed_at", "actual_minutes"]
    elif target == TaskState.BLOCKED and record.status == SLAStatus.RUNNING:
        record.status, record.paused_at = SLAStatus.PAUSED, at
        fields = ["status", "paused_at"]
    elif source == TaskState.BLOCKED and record.status == SLAStatus.PAUSED:
        _resume(record, at)
        record.status = SLAStatus.CANCELLED if target == TaskState.CANCELLED else SLAStatus.RUNNING
        fields = ["status", "paused_at", "paused_seconds", "due_at", "at_risk_at"]
        if target == TaskState.CANCELLED:
            record.completed_at, record.actual_minutes = at, _elapsed_minutes(record, at)
            fields += ["completed_at", "actual_minutes"]
    elif target == TaskState.COMPLETED and record.status == SLAStatus.RUNNING:
        record.completed_at, record.actual_minutes = at, _elapsed_minutes(record, at)
        fields = ["status", "completed_at", "actual_minutes"]
        if at <= record.due_at:
            record.status = SLAStatus.MET
        else:
            # Late, and the scan had not got there yet: the breach is recorded (and announced) here.
            record.status, record.breached_at = SLAStatus.BREACHED, record.due_at
            fields.append("breached_at")
            _announce_breaches(
                [_BreachRow(record.pk, record.tenant_id, task.pk, record.due_at, record.target_minutes)], at
            )
    elif target == TaskState.CANCELLED and record.status == SLAStatus.RUNNING:
        record.status, record.completed_at, record.actual_minutes = (
            SLAStatus.CANCELLED,
            at,
            _elapsed_minutes(record, at),
        )
        fields = ["status", "completed_at", "actual_minutes"]
    if fields:
        record.save(update_fields=fields)
    return record


# --- the beat scan --------------------------------------------------------------------------
@dataclass
class _BreachRow:
    record_id: int
    tenant_id: int
    task_id: int
    due_at: datetime
    target_minutes: int


@dataclass
class ScanResult:
    breached: int = 0
    at_risk: int = 0


def _claim(*, set_sql: str, where: str, order: str, now: datetime, limit: int) -> list[_BreachRow]:
    rows = claim_due_rows(
        SLARecord,
        due=[Due(where=where, order=order)],
        set_sql=set_sql,
        params={"now": now},
        limit=limit,
        returning=("id", "tenant_id", "task_id", "due_at", "target_minutes"),
    )
    return [_BreachRow(*row) for row in rows]


def _task_rows(task_ids: list[int]) -> dict[int, dict]:
    return {
        row["id"]: row
        for row in Task.objects.all_tenants()
        .filter(pk__in=task_ids)
        .values("id", "title", "task_type", "service_area", "priority", "state", "assigned_to__username")
    }


def _announce_breaches(rows: list[_BreachRow], at: datetime) -> None:
    _announce(rows, at, kind="breached")


def _announce(rows: list[_BreachRow], at: datetime, *, kind: str) -> None:
    """One ``workflow.task.sla_breached`` (or ``sla_warning``) event and one alert per record,
    written in bulk per tenant in the caller's transaction."""
    from activity_feed.services import Draft, events_bulk_create

    if not rows:
        return
    tasks = _task_rows([r.task_id for r in rows])
    by_tenant: dict[int, list] = {}
    for row in rows:
        task = tasks.get(row.task_id, {})
        title = task.get("title", f"task {row.task_id}")
        data = {
            "task_id": row.task_id,
            "sla_record_id": row.record_id,
            "title": title,
            "task_type": task.get("task_type"),
            "service_area": task.get("service_area"),
            "priority": task.get("priority"),
            "state": task.get("state"),
            "assigned_to": task.get("assigned_to__username"),
            "due_at": row.due_at.isoformat(),
            "target_minutes": row.target_minutes,
        }
        if kind == "breached":
            event_type, alert_type, verb, prio = "workflow.task.sla_breached", "sla_breached", "breached", "high"
        else:
            event_type, alert_type, verb, prio = "workflow.task.sla_warning", "sla_at_risk", "at risk", "normal"
        common = {"source": "system", "source_system": "ocx", "entity_type": "task", "entity_id": str(row.task_id),
                  "timestamp": at, "source_object_id": str(row.record_id)}  # fmt: skip
        by_tenant.setdefault(row.tenant_id, []).extend(
            [
                Draft(
                    type=event_type,
                    title=f"SLA {verb}: {title}",
                    priority=prio,
                    payload=data,
                    idempotency_key=f"workflow:sla:{kind}:{row.record_id}",
                    **common,
                ),
                Draft(
                    type="workflow.alert.raised",
                    title=f"Alert: SLA {verb} for task '{title}'",
                    priority=prio,
                    payload={**data, "alert_type": alert_type, "message": f"SLA {verb} for task '{title}'"},
                    idempotency_key=f"workflow:alert:sla:{kind}:{row.record_id}",
                    **common,
                ),
            ]
        )
    chunk = 500  # well under the spine's batch bound (OCX_INGEST_MAX_BATCH, 1000 by default)
    for tenant_id, drafts in by_tenant.items():
        for start in range(0, len(drafts), chunk):
            events_bulk_create(tenant=tenant_id, drafts=drafts[start : start + chunk])
    if kind == "breached":
        transaction.on_commit(lambda: SLA_BREACHED.inc(len(rows)))


def sla_scan(*, now: datetime | None = None, batch_size: int | None = None) -> ScanResult:
    """Mark running clocks past their deadline breached, and warn those past their at-risk mark,
    each exactly once (safe under concurrent runs). Paused clocks are skipped: blocked time does
    not count."""
    now = now or timezone.now()
    limit = batch_size or conf.sla_scan_batch()
    result = ScanResult()
    with transaction.atomic():
        breached = _claim(
            # Literal statuses (not parameters) so the planner matches the partial index.
            set_sql="status = 'breached', breached_at = due_at",
            where="status = 'running' AND due_at < %(now)s",
            order="due_at",
            now=now,
            limit=limit,
        )
        _announce(breached, now, kind="breached")
        result.breached = len(breached)
    with transaction.atomic():
        warned = _claim(
            set_sql="at_risk_notified_at = %(now)s",
            where="status = 'running' AND at_risk_notified_at IS NULL AND at_risk_at < %(now)s",
            order="at_risk_at",
            now=now,
            limit=limit,
        )
        _announce(warned, now, kind="at_risk")
        result.at_risk = len(warned)
    if result.breached or result.at_risk:
        logger.info("SLA scan: %s breached, %s at risk", result.breached, result.at_risk)
    return result
