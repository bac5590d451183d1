"""Registry reads, tenant-scoped. They own select_related so list endpoints stay at a constant
number of queries whatever the page size."""

from __future__ import annotations

import semver
from django.db.models import Exists, OuterRef, QuerySet

from ocx.core import errors
from ocx.core.db import get_or_404
from registry.models import (
    Activity,
    ActivityConflict,
    ActivityVersion,
    Approval,
    ApprovalStatus,
    Deployment,
    DeploymentStatus,
    Execution,
    ExecutionStats,
)
from registry.rules import can_decide


def activity_list(*, tenant, filters: dict | None = None) -> QuerySet[Activity]:
    filters = filters or {}
    qs = Activity.objects.for_tenant(tenant).select_related("created_by", "tenant")
    for field in ("status", "category", "name", "owner"):
        if filters.get(field):
            qs = qs.filter(**{field: filters[field]})
    if filters.get("environment"):
        qs = qs.filter(
            Exists(
                Deployment.objects.all_tenants().filter(
                    activity=OuterRef("pk"), environment=filters["environment"], status=DeploymentStatus.ACTIVE
                )
            )
        )
    return qs.order_by("name", "-version_major", "-version_minor", "-version_patch")


def activity_get(*, tenant, activity_id) -> Activity:
    return get_or_404(
        Activity.objects.for_tenant(tenant).select_related("created_by", "tenant"), "Activity", pk=activity_id
    )


def activity_latest(*, tenant, name: str, status: str | None = None) -> Activity:
    """The highest *semantic* version of ``name`` (1.10.0 > 1.9.0; a pre-release sorts below its
    release), optionally only among activities in ``status``."""
    qs = Activity.objects.for_tenant(tenant).filter(name=name).select_related("created_by", "tenant")
    if status:
        qs = qs.filter(status=status)
    candidates = list(qs.order_by("-version_major", "-version_minor", "-version_patch")[:50])
    if not candidates:
        raise errors.NotFound(
            f"No activity named {name!r}" + (f" in status {status}." if status else "."), details={"name": name}
        )
    top = (candidates[0].version_major, candidates[0].version_minor, candidates[0].version_patch)
    same_core = [a for a in candidates if (a.version_major, a.version_minor, a.version_patch) == top]
    return max(same_core, key=lambda a: semver.Version.parse(a.version))


def approvals_pending(*, tenant, approval_type: str | None = None, approver: str | None = None) -> QuerySet[Approval]:
    qs = (
        Approval.objects.for_tenant(tenant)
        .filter(approval_status=ApprovalStatus.PENDING)
        .select_related("activity", "activity__created_by", "requested_by", "decided_by")
        .order_by("requested_at")
    )
    if approval_type:
        qs = qs.filter(approval_type=approval_type)
    if approver:
        qs = qs.filter(approver_id=approver)
    return qs


def approvals_for(*, activity) -> QuerySet[Approval]:
    return (
        Approval.objects.for_tenant(activity.tenant_id)
        .filter(activity=activity)
        .select_related("activity", "activity__created_by", "requested_by", "decided_by")
        .order_by("review_round", "requested_at")
    )


def deployments_for(*, activity) -> QuerySet[Deployment]:
    return (
        Deployment.objects.for_tenant(activity.tenant_id)
        .filter(activity=activity)
        .select_related("activity", "target_tenant", "deployed_by", "ended_by")
        .order_by("-deployed_at")
    )


def approvals_decidable(*, user, activity) -> QuerySet[Approval]:
    """The pending approvals of the activity's current round that ``user`` may decide."""
    pending = Approval.objects.for_tenant(activity.tenant_id).filter(
        activity=activity, review_round=activity.review_round, approval_status=ApprovalStatus.PENDING
    )
    decidable = [a.pk for a in pending if can_decide(user, a, activity)[0]]
    return Approval.objects.for_tenant(activity.tenant_id).filter(pk__in=decidable)


def deployments_rollbackable(*, activity) -> QuerySet[Deployment]:
    """The activity's active deployments that superseded another one (so can be rolled back)."""
    return (
        Deployment.objects.for_tenant(activity.tenant_id)
        .filter(activity=activity, status=DeploymentStatus.ACTIVE, previous_deployment__isnull=False)
        .select_related("target_tenant")
    )


def executions_for(*, activity, limit: int = 100) -> list[Execution]:
    return list(
        Execution.objects.for_tenant(activity.tenant_id).filter(activity=activity).order_by("-executed_at")[:limit]
    )


def execution_stats(*, activity) -> dict:
    stats = ExecutionStats.objects.filter(activity=activity).first()
    if stats is None or not stats.total_executions:
        return {
            "total_executions": 0,
            "successful_executions": 0,
            "failed_executions": 0,
            "avg_duration_ms": None,
            "last_execution_at": None,
        }
    return {
        "total_executions": stats.total_executions,
        "successful_executions": stats.successful_executions,
        "failed_executions": stats.failed_executions,
        "avg_duration_ms": round(stats.total_duration_ms / stats.total_executions),
        "last_execution_at": stats.last_execution_at,
    }


def versions_for(*, activity) -> QuerySet[ActivityVersion]:
    """Every version of the activity's name, newest semantic version first."""
    return (
        ActivityVersion.objects.for_tenant(activity.tenant_id)
        .filter(name=activity.name)
        .select_related("activity", "previous_activity", "created_by")
        .order_by("-activity__version_major", "-activity__version_minor", "-activity__version_patch", "-created_at")
    )


def conflicts_for(*, activity) -> QuerySet[ActivityConflict]:
    return (
        ActivityConflict.objects.for_tenant(activity.tenant_id).filter(activity=activity).select_related("resolved_by")
    )


def registry_summary(*, tenant) -> dict:
    """Operators' figures: activities by status, pending approvals, active deployments per environment."""
    from django.db.models import Count

    from registry.models import ActivityStatus, Environment

    by_status = dict(Activity.objects.for_tenant(tenant).values_list("status").annotate(n=Count("pk")).order_by())
    deployments = dict(
        Deployment.objects.for_tenant(tenant)
        .filter(status=DeploymentStatus.ACTIVE)
        .values_list("environment")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {
        "activities": {s: by_status.get(s, 0) for s in ActivityStatus.values},
        "pending_approvals": Approval.objects.for_tenant(tenant).filter(approval_status=ApprovalStatus.PENDING).count(),
        "active_deployments": {e: deployments.get(e, 0) for e in Environment.values},
    }


# --- for the runs app: which activity a work unit is, and where it is live ---------------------
def activity_for_work_unit(*, tenant, work_unit: str) -> Activity | None:
    """The activity a work unit names, for ``tenant``: by UUID, that version (the tenant's own, or
    one deployed to the tenant); by name, the version live for the tenant (its own first, else
    one another tenant deployed to it), else the newest version of the tenant's own. None when
    nothing matches."""
    import uuid

    from django.db.models import Q

    tenant_id = getattr(tenant, "pk", tenant)
    reachable = Activity.objects.all_tenants().filter(
        Q(tenant_id=tenant_id) | Q(deployments__target_tenant_id=tenant_id)
    )
    try:
        activity_id = uuid.UUID(str(work_unit))
    except ValueError:
        activity_id = None
    if activity_id is not None:
        return reachable.filter(pk=activity_id).select_related("tenant").distinct().first()
    live = (
        Deployment.objects.all_tenants()
        .filter(target_tenant_id=tenant_id, activity_name=work_unit, status=DeploymentStatus.ACTIVE)
        .select_related("activity", "activity__tenant")
    )
    own_live = live.filter(tenant_id=tenant_id).order_by("-deployed_at").first()
    if own_live is not None:
        return own_live.activity
    own = list(
        Activity.objects.for_tenant(tenant_id)
        .filter(name=work_unit)
        .select_related("tenant")
        .order_by("-version_major", "-version_minor", "-version_patch")[:50]
    )
    if own:
        top = (own[0].version_major, own[0].version_minor, own[0].version_patch)
        same_core = [a for a in own if (a.version_major, a.version_minor, a.version_patch) == top]
        return max(same_core, key=lambda a: semver.Version.parse(a.version))
    shared = live.order_by("-deployed_at").first()
    return shared.activity if shared is not None else None


def own_live_deployment(*, tenant, name: str, environment: str) -> Deployment | None:
    """The tenant's own ACTIVE deployment of its activity ``name`` to itself in ``environment``,
    with its activity (one query): the common case of running a work unit by name. None when
    there is none; ``activity_for_work_unit`` + ``live_deployment_for`` then decide (another
    tenant's deployment, or why it cannot run)."""
    tenant_id = getattr(tenant, "pk", tenant)
    return (
        Deployment.objects.all_tenants()
        .filter(
            tenant_id=tenant_id,
            target_tenant_id=tenant_id,
            activity_name=name,
            environment=environment,
            status=DeploymentStatus.ACTIVE,
        )
        .select_related("activity", "activity__tenant")
        .first()
    )


def live_deployment_for(*, tenant, activity: Activity, environment: str) -> Deployment | None:
    """The ACTIVE deployment of ``activity``'s name (any of its versions, from the activity's
    owner) to ``tenant`` in ``environment``, with its activity; None when it is not live there
    (never deployed, suspended, rolled back, retired, or only effective later)."""
    tenant_id = getattr(tenant, "pk", tenant)
    return (
        Deployment.objects.all_tenants()
        .filter(
            tenant_id=activity.tenant_id,
            activity_name=activity.name,
            environment=environment,
            target_tenant_id=tenant_id,
            status=DeploymentStatus.ACTIVE,
        )
        .select_related("activity")
        .first()
    )
