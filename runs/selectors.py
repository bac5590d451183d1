"""Runs reads, tenant-scoped. Every list is an ordered scan of one index, bounded by its limit,
so its cost does not grow with the number of runs (the summary reads the hourly counters)."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ocx.core import errors
from ocx.core.api.params import parse_int
from ocx.core.db import get_or_404
from registry import selectors as registry_selectors
from runs.models import Run, RunCounter, RunStatus, Workspace, WorkspaceMember, WorkspaceWorkUnit

MAX_LIMIT = 100
MAX_SUMMARY_HOURS = 24 * 90
#: The seed's event-type mapping (a cancelled run reads as a ``run`` whose details say so).
EVENT_TYPE = {
    RunStatus.COMPLETED: "completion",
    RunStatus.FAILED: "error",
    RunStatus.RUNNING: "run",
    RunStatus.PENDING: "run",
    RunStatus.CANCELLED: "run",
}


def clamp_limit(value, *, default: int) -> int:
    """``?limit=``: a whole number (else 400), brought within 1…100."""
    limit = parse_int(value, name="limit", default=default)
    return max(1, min(limit, MAX_LIMIT))


# --- runs -------------------------------------------------------------------------------------
def run_get(*, tenant, run_id) -> Run:
    return get_or_404(Run.objects.for_tenant(tenant), "Run", pk=run_id)


def runs_recent(*, tenant, user, limit: int = 10) -> list[Run]:
    """The user's latest runs, newest first."""
    return list(Run.objects.for_tenant(tenant).filter(user=user).order_by("-created_at", "-id")[:limit])


def work_unit_key(*, tenant, work_unit: str, strict: bool = True) -> str:
    """The work unit id (activity name) that ``work_unit`` (a name or an activity UUID) names.
    ``strict``: 404 when no registry activity of the tenant (or deployed to it) has it and no run
    of the tenant does; otherwise an unknown name is returned as it is."""
    if not strict and not is_uuid(work_unit):
        return work_unit  # a name is its own id
    activity = registry_selectors.activity_for_work_unit(tenant=tenant, work_unit=work_unit)
    if activity is not None:
        return activity.name
    if strict and not Run.objects.for_tenant(tenant).filter(work_unit_id=work_unit).exists():
        raise errors.NotFound(f"Work unit {work_unit!r} not found.", details={"work_unit_id": work_unit})
    return work_unit


def is_uuid(value) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


@dataclass
class RunFilters:
    status: list[str] | None = None
    work_unit_id: str | None = None
    user: str | None = None  # a user id, or a username
    workspace_id: uuid.UUID | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


def run_list(*, tenant, filters: RunFilters) -> QuerySet[Run]:
    """The tenant's runs, newest first (``created_at``, then ``id``: the keyset order)."""
    qs = Run.objects.for_tenant(tenant)
    if filters.status:
        qs = qs.filter(status__in=filters.status)
    if filters.work_unit_id:
        qs = qs.filter(work_unit_id=filters.work_unit_id)
    if filters.user:
        user = str(filters.user).strip()
        qs = qs.filter(user_id=int(user)) if user.isdigit() else qs.filter(user_name=user)
    if filters.workspace_id is not None:
        qs = qs.filter(workspace_id=filters.workspace_id)
    if filters.created_after is not None:
        qs = qs.filter(created_at__gte=filters.created_after)
    if filters.created_before is not None:
        qs = qs.filter(created_at__lt=filters.created_before)
    return qs.order_by("-created_at", "-id")


@dataclass
class Page:
    items: list
    next_cursor: str | None
    limit: int

    @property
    def has_more(self) -> bool:
        return self.next_cursor is not None


def encode_cursor(run: Run) -> str:
    raw = json.dumps([run.created_at.isoformat(), str(run.pk)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, pk = json.loads(raw)
        moment = parse_datetime(created)
        if moment is None:
            raise ValueError(created)
        return moment, uuid.UUID(pk)
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        raise errors.ValidationError("cursor is not valid.", details={"cursor": cursor}) from None


def keyset_page(qs: QuerySet[Run], *, cursor: str | None, limit: int) -> Page:
    """One page of ``qs`` (ordered newest first) after ``cursor``: page 10,000 costs what page 1 does."""
    if cursor:
        created, pk = decode_cursor(cursor)
        qs = qs.filter(Q(created_at__lt=created) | Q(created_at=created, id__lt=pk))
    rows = list(qs[: limit + 1])
    items = rows[:limit]
    return Page(items=items, next_cursor=encode_cursor(items[-1]) if len(rows) > limit else None, limit=limit)


# --- activity (the seed's ActivityService) ----------------------------------------------------
def _run_event(run: Run) -> dict:
    return {
        "id": str(run.pk),
        "type": EVENT_TYPE[run.status],
        "user_id": run.user_id,
        "user_name": run.user_name or "Unknown",
        "work_unit_id": run.work_unit_id,
        "work_unit_name": run.work_unit_name or "Unknown",
        "timestamp": run.completed_at or run.started_at or run.created_at,
        "created_at": run.created_at,
        "details": {
            "run_id": str(run.pk),
            "status": run.status,
            "work_unit_type": run.work_unit_type,
            "activity_version": run.activity_version or None,
            "environment": run.environment,
            "execution": run.execution,
            "attempt": run.attempt,
            "duration_ms": run.duration_ms,
            "error": run.error or None,
            "error_type": run.error_type or None,
            "workspace_id": str(run.workspace_id) if run.workspace_id else None,
        },
    }


def _delegation_event(unit: WorkspaceWorkUnit) -> dict:
    return {
        "id": str(unit.pk),
        "type": "delegation",
        "user_id": unit.added_by_id,
        "user_name": unit.added_by.get_username(),
        "work_unit_id": unit.work_unit_id,
        "work_unit_name": unit.work_unit_name,
        "timestamp": unit.created_at,
        "created_at": unit.created_at,
        "details": {
            "workspace_id": str(unit.workspace_id),
            "workspace_name": unit.workspace.name,
            "work_unit_type": unit.work_unit_type,
            "delegation_id": unit.delegation_id or None,
        },
    }


_RUN_COLUMNS = ("id", "status", "user", "user_name", "work_unit_id", "work_unit_name", "work_unit_type",
                "activity_version", "environment", "execution", "attempt", "duration_ms", "error", "error_type",
                "workspace", "started_at", "completed_at", "created_at", "tenant")  # fmt: skip


def _activity(runs: QuerySet[Run], units: QuerySet[WorkspaceWorkUnit], limit: int) -> list[dict]:
    """The newest ``limit`` runs and delegations, merged newest first: two index scans of at
    most ``limit`` rows each."""
    run_rows = list(runs.only(*_RUN_COLUMNS).order_by("-created_at", "-id")[:limit])
    unit_rows = list(
        units.select_related("added_by", "workspace")
        .only(
            "id",
            "work_unit_id",
            "work_unit_name",
            "work_unit_type",
            "delegation_id",
            "created_at",
            "added_by",
            "added_by__username",
            "workspace",
            "workspace__name",
            "tenant",
        )  # fmt: skip
        .order_by("-created_at", "-id")[:limit]
    )
    events = [_run_event(r) for r in run_rows] + [_delegation_event(u) for u in unit_rows]
    events.sort(key=lambda e: e["created_at"], reverse=True)
    return events[:limit]


def activity_team(*, tenant, limit: int = 10) -> list[dict]:
    """What the tenant's people ran (and delegated) lately."""
    return _activity(Run.objects.for_tenant(tenant), WorkspaceWorkUnit.objects.for_tenant(tenant), limit)


def activity_my(*, tenant, user, limit: int = 10) -> list[dict]:
    """What ``user`` ran (and delegated) lately."""
    return _activity(
        Run.objects.for_tenant(tenant).filter(user=user),
        WorkspaceWorkUnit.objects.for_tenant(tenant).filter(added_by=user),
        limit,
    )


def activity_summary(*, tenant, hours: int = 24) -> dict:
    """Runs created in the last ``hours`` hours (whole hours: from the top of the hour ``hours``
    ago) by their current status, from the hourly counters: at most ``hours`` × 8 rows."""
    since = timezone.now() - timedelta(hours=hours)
    bucket = since.replace(minute=0, second=0, microsecond=0)
    sums = (
        RunCounter.objects.for_tenant(tenant)
        .filter(bucket__gte=bucket)
        .aggregate(**{status: Sum(status) for status in RunStatus.values})
    )
    counts = {status: int(sums[status] or 0) for status in RunStatus.values}
    total = sum(counts.values())
    return {
        "period_hours": hours,
        "total_runs": total,
        "completed": counts["completed"],
        "failed": counts["failed"],
        "pending": counts["pending"],
        "running": counts["running"],
        "cancelled": counts["cancelled"],
        "success_rate": round(counts["completed"] / total, 2) if total else 0.0,
        "since": bucket,
    }


# --- workspaces -------------------------------------------------------------------------------
def workspace_list(*, tenant, include_archived: bool = False) -> QuerySet[Workspace]:
    qs = Workspace.objects.for_tenant(tenant).select_related("created_by")
    if not include_archived:
        qs = qs.filter(archived_at__isnull=True)
    return qs.order_by("name", "id")


def workspace_get(*, tenant, workspace_id) -> Workspace:
    return get_or_404(Workspace.objects.for_tenant(tenant).select_related("created_by"), "Workspace", pk=workspace_id)


def workspace_members(*, workspace: Workspace) -> QuerySet[WorkspaceMember]:
    return (
        WorkspaceMember.objects.for_tenant(workspace.tenant_id)
        .filter(workspace=workspace)
        .select_related("user", "invited_by")
        .order_by("created_at", "id")
    )


def workspace_work_units(*, workspace: Workspace, work_unit_type: str | None = None) -> QuerySet[WorkspaceWorkUnit]:
    qs = (
        WorkspaceWorkUnit.objects.for_tenant(workspace.tenant_id)
        .filter(workspace=workspace)
        .select_related("added_by")
        .order_by("created_at", "id")
    )
    if work_unit_type:
        qs = qs.filter(work_unit_type=work_unit_type)
    return qs


def workspace_counts(*, workspaces: list[Workspace]) -> dict:
    """Members and work units per workspace of a page: two grouped queries for the whole page."""
    from django.db.models import Count

    ids = [w.pk for w in workspaces]
    if not ids:
        return {}
    tenant_id = workspaces[0].tenant_id
    members = dict(
        WorkspaceMember.objects.for_tenant(tenant_id).filter(workspace_id__in=ids).values_list("workspace_id")
        .annotate(n=Count("id")).order_by()
    )  # fmt: skip
    units = dict(
        WorkspaceWorkUnit.objects.for_tenant(tenant_id).filter(workspace_id__in=ids).values_list("workspace_id")
        .annotate(n=Count("id")).order_by()
    )  # fmt: skip
    return {pk: {"member_count": members.get(pk, 0), "work_unit_count": units.get(pk, 0)} for pk in ids}
