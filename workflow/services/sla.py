"""SLA configurations (each write with its event) and SLA clocks: started with the task, paused
while blocked, stopped on completion or cancellation (the ``SLARecord`` transitions), and the
beat scan that marks breaches (and at-risk warnings) exactly once.

The scan is set-based: one claim (``ocx.core.db.claim_due_rows``: ``UPDATE … WHERE status =
'running' AND due_at < now … RETURNING`` over a partial index, ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so two concurrent scans split the rows instead of both taking them) takes the newly
breached records: the ``breach`` transition applied in bulk, the one write of the clock's status
outside its transition methods (see ``SLARecord``). Only the rows an UPDATE returned get an
event, so a breach is announced once however many scans run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from activity_feed.services import publish
from ocx.core import errors
from ocx.core.access import Perm, has_perm
from ocx.core.db import Due, claim_due_rows
from ocx.core.fsm import fsm_transition
from ocx.core.locks import lock_get_or_404, lock_one
from ocx.core.services import service
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


def _config_event(config: SLAConfig, *, verb: str, actor, config_id: int | None = None, **extra) -> None:
    """``workflow.sla_config.created|updated|deleted`` in the service's transaction."""
    config_id = config_id or config.pk
    scope = f"{config.task_type}/{config.service_area}"
    publish(
        tenant=config.tenant_id,
        type=f"workflow.sla_config.{verb}",
        title=f"SLA configuration {verb}: {scope} ({config.target_minutes} min)",
        entity_type="sla_config",
        entity_id=config_id,
        payload={
            "sla_config_id": config_id,
            "service_area": config.service_area,
            "task_type": config.task_type,
            "target_minutes": config.target_minutes,
            "at_risk_fraction": config.at_risk_fraction,
            "active": config.active,
            **extra,
        },
        actor=actor,
    )


_DUPLICATE = "An SLA configuration for this service area and task type exists already."


@service
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
    try:
        with transaction.atomic():  # a savepoint: the unique constraint decides, also under concurrent requests
            config = SLAConfig.objects.create(
                tenant_id=getattr(tenant, "pk", tenant),
                service_area=service_area,
                task_type=task_type,
                target_minutes=target_minutes,
                active=active,
                at_risk_fraction=at_risk_fraction,
                created_by=actor if getattr(actor, "pk", None) else None,
            )
    except IntegrityError:
        raise errors.Conflict(_DUPLICATE, details={"service_area": service_area, "task_type": task_type}) from None
    _config_event(config, verb="created", actor=actor)
    return config


UPDATABLE = ("target_minutes", "active", "at_risk_fraction", "service_area", "task_type")


def _lock_tenant_config(*, tenant, config_id) -> SLAConfig:
    # Global defaults (tenant NULL) are not the tenant's to change: they are edited in the admin.
    return lock_get_or_404(
        SLAConfig.objects.filter(tenant_id=getattr(tenant, "pk", tenant)),
        "SLA configuration",
        message="SLA configuration not found (global defaults are changed in the admin).",
        details={},
        pk=config_id,
    )


@service
def sla_config_update(*, tenant, actor, config_id: int, **changes) -> SLAConfig:
    """Change a tenant's configuration (MANAGE_SLA). Running clocks keep the target they started with."""
    _require_manage(actor, tenant)
    _check_config(target_minutes=changes.get("target_minutes"), at_risk_fraction=changes.get("at_risk_fraction"))
    config = _lock_tenant_config(tenant=tenant, config_id=config_id)
    fields = [name for name in UPDATABLE if name in changes]
    for name in fields:
        setattr(config, name, changes[name])
    try:
        with transaction.atomic():
            config.save(update_fields=[*fields, "updated_at"])
    except IntegrityError:
        raise errors.Conflict(
            _DUPLICATE, details={"service_area": config.service_area, "task_type": config.task_type}
        ) from None
    _config_event(config, verb="updated", actor=actor, changed=fields)
    return config


@service
def sla_config_delete(*, tenant, actor, config_id: int) -> None:
    """Remove a tenant's configuration (MANAGE_SLA); records keep their copied target."""
    _require_manage(actor, tenant)
    config = _lock_tenant_config(tenant=tenant, config_id=config_id)
    config_id = config.pk
    config.delete()
    _config_event(config, verb="deleted", actor=actor, config_id=config_id)


# --- the clock ------------------------------------------------------------------------------
def sla_start(*, task: Task, at: datetime) -> SLARecord | None:
    """Start the task's clock from its configuration (no configuration: no SLA). Part of
    ``task_create``'s transaction."""
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
        started_at=at,
        due_at=at + target,
        at_risk_at=at + target * fraction,
    )  # the clock starts ``running`` (the field's default)


_END = ["completed_at", "actual_minutes"]
_UNPAUSE = ["paused_at", "paused_seconds", "due_at", "at_risk_at"]
# What each clock transition changes besides ``status`` (saved with update_fields).
CLOCK_FIELDS = {
    "pause": ["paused_at"],
    "resume": _UNPAUSE,
    "meet": _END,
    "breach": ["breached_at", *_END],
    "cancel": [*_UNPAUSE, *_END],
}


def _moves_clock(source: str, target: str) -> bool:
    return source == TaskState.BLOCKED or target in (TaskState.BLOCKED, TaskState.COMPLETED, TaskState.CANCELLED)


def _clock_transition(record: SLARecord, *, source: str, target: str, at: datetime) -> str | None:
    """Which of the clock's transitions the task's move from ``source`` to ``target`` takes."""
    if record.status == SLAStatus.RUNNING:
        if target == TaskState.BLOCKED:
            return "pause"
        if target == TaskState.COMPLETED:
            # Late, and the scan had not got there yet: the breach is recorded (and announced) here.
            return "meet" if at <= record.due_at else "breach"
        if target == TaskState.CANCELLED:
            return "cancel"
    if record.status == SLAStatus.PAUSED and source == TaskState.BLOCKED:
        return "cancel" if target == TaskState.CANCELLED else "resume"
    return None


def sla_on_transition(*, task: Task, source: str, target: str, at: datetime, actor) -> SLARecord | None:
    """Blocked pauses the clock, leaving blocked resumes it (the deadline moves by the pause),
    completed stops it (met, or breached if late), cancelled stops it without a verdict. Part of
    ``task_transition``'s transaction, which holds the task's lock."""
    if not _moves_clock(source, target):
        return None  # new → in_progress: the clock runs on, nothing to read or write
    record = lock_one(SLARecord.objects.for_tenant(task.tenant_id).filter(task_id=task.pk))
    if record is None:
        return None
    name = _clock_transition(record, source=source, target=target, at=at)
    if name is not None:
        fsm_transition(
            record,
            entity_type="SLARecord",
            actor=actor,
            name=name,
            arguments={"at": at},
            update_fields=CLOCK_FIELDS[name],
            lock=False,  # locked above
        )
        if name == "breach":
            row = _BreachRow(record.pk, record.tenant_id, task.pk, record.due_at, record.target_minutes)
            _announce([row], at, kind="breached")
    elif record.breached and target in (TaskState.COMPLETED, TaskState.CANCELLED) and record.completed_at is None:
        # The verdict is final; only the end of the work is still recorded.
        record.record_end(at=at)
        record.save(update_fields=_END)
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


@service
def sla_breaches_mark(*, actor=None, now: datetime, limit: int) -> int:
    """Mark up to ``limit`` running clocks past their deadline breached (the ``breach`` transition
    in bulk), each with its event and alert, exactly once however many scans run."""
    breached = _claim(
        # SLARecord.breach() in bulk: the one write of the clock's status outside its transition
        # methods (a million clocks are not loaded one by one). Literal statuses (not
        # parameters) so the planner matches the partial index.
        set_sql="status = 'breached', breached_at = due_at",
        where="status = 'running' AND due_at < %(now)s",
        order="due_at",
        now=now,
        limit=limit,
    )
    _announce(breached, now, kind="breached")
    return len(breached)


@service
def sla_warnings_mark(*, actor=None, now: datetime, limit: int) -> int:
    """Warn up to ``limit`` running clocks past their at-risk mark, each exactly once (the status
    does not change)."""
    warned = _claim(
        set_sql="at_risk_notified_at = %(now)s",
        where="status = 'running' AND at_risk_notified_at IS NULL AND at_risk_at < %(now)s",
        order="at_risk_at",
        now=now,
        limit=limit,
    )
    _announce(warned, now, kind="at_risk")
    return len(warned)


def sla_scan(*, actor=None, now: datetime | None = None, batch_size: int | None = None) -> ScanResult:
    """The beat job: breaches, then at-risk warnings, each its own transaction (a failed warning
    batch does not undo the breaches). Safe under concurrent runs. Paused clocks are skipped:
    blocked time does not count."""
    now = now or timezone.now()
    limit = batch_size or conf.sla_scan_batch()
    result = ScanResult(
        breached=sla_breaches_mark(actor=actor, now=now, limit=limit),
        at_risk=sla_warnings_mark(actor=actor, now=now, limit=limit),
    )
    if result.breached or result.at_risk:
        logger.info("SLA scan: %s breached, %s at risk", result.breached, result.at_risk)
    return result
