"""Executions reported by agents, and conflict resolutions recorded against an activity."""

from __future__ import annotations

from datetime import datetime

from django.db.models import F, Value
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from ocx.core import errors
from ocx.core.access import Perm
from ocx.core.db import get_or_404
from ocx.core.services import service
from registry.models import (
    Activity,
    ActivityConflict,
    ActivityStatus,
    Deployment,
    DeploymentStatus,
    Execution,
    ExecutionOutcome,
    ExecutionStats,
)
from registry.services.common import publish_registry_event, require


def _activity(tenant, activity_id) -> Activity:
    return get_or_404(Activity.objects.for_tenant(tenant), "Activity", pk=activity_id)


def _record_execution(
    *,
    activity,
    deployment,
    actor,
    agent_id: str,
    event_agent_id: str,
    outcome: str,
    duration_ms: int,
    evidence_ref: str,
    error_message: str,
    executed_at: datetime,
    tags: tuple[str, ...],
    **payload,
) -> Execution:
    """Create the execution, move the ``…/stats`` totals and publish the event; shared by
    ``execution_record`` and ``registry.services.runs.execution_record_for_run``. The event
    reports ``event_agent_id`` (what the caller was given) and ``payload`` after ``deployment_id``."""
    execution = Execution.objects.create(
        tenant_id=activity.tenant_id,
        activity=activity,
        deployment=deployment,
        agent_id=agent_id,
        outcome=outcome,
        duration_ms=duration_ms,
        evidence_ref=evidence_ref,
        error_message=error_message,
        executed_at=executed_at,
        recorded_by=actor if getattr(actor, "pk", None) else None,
    )
    success = outcome == ExecutionOutcome.SUCCESS
    # One atomic UPDATE: concurrent agents and runs never lose a count.
    ExecutionStats.objects.filter(activity=activity).update(
        total_executions=F("total_executions") + 1,
        successful_executions=F("successful_executions") + (1 if success else 0),
        failed_executions=F("failed_executions") + (0 if success else 1),
        total_duration_ms=F("total_duration_ms") + execution.duration_ms,
        last_execution_at=Greatest(Coalesce(F("last_execution_at"), Value(executed_at)), Value(executed_at)),
    )
    publish_registry_event(
        activity,
        f"registry.execution.{'succeeded' if success else 'failed'}",
        actor=actor,
        source_object_type="execution",
        source_object_id=execution.execution_id,
        tags=tags,
        title=f"{activity} execution {'succeeded' if success else 'failed'} in {deployment.environment}",
        description=error_message,
        priority="low" if success else "high",
        execution_id=str(execution.execution_id),
        deployment_id=str(deployment.pk),
        **payload,
        outcome=outcome,
        duration_ms=execution.duration_ms,
        evidence_ref=evidence_ref,
        agent_id=event_agent_id,
    )
    return execution


@service
def execution_record(
    *,
    tenant,
    actor,
    activity_id,
    outcome: str,
    duration_ms: int,
    evidence_ref: str = "",
    error_message: str = "",
    executed_at: datetime | None = None,
    deployment_id=None,
    agent_id: str = "",
) -> Execution:
    """Record one run of an activity against one of its ACTIVE deployments; the running totals
    behind ``…/stats`` are updated in the same transaction."""
    require(actor, tenant, Perm.RECORD_EXECUTION)
    if outcome not in ExecutionOutcome.values:
        raise errors.ValidationError("outcome must be SUCCESS or FAILURE.", details={"outcome": outcome})
    activity = _activity(tenant, activity_id)
    if activity.status != ActivityStatus.ACTIVE:
        raise errors.Conflict(
            f"Activity {activity} is {activity.status}; executions are recorded against an active deployment only.",
            details={"status": activity.status},
        )
    deployments = Deployment.objects.for_tenant(tenant).filter(activity=activity, status=DeploymentStatus.ACTIVE)
    if deployment_id is not None:
        deployment = deployments.filter(pk=deployment_id).first()
        if deployment is None:
            raise errors.Conflict(
                "That deployment is not an active deployment of this activity.",
                details={"deployment_id": str(deployment_id)},
            )
    else:
        live = list(deployments[:2])
        if len(live) != 1:
            raise errors.ValidationError(
                "This activity has several active deployments: say which one with deployment_id.",
                details={"active_deployments": [str(d.pk) for d in live]},
            )
        deployment = live[0]
    return _record_execution(
        activity=activity,
        deployment=deployment,
        actor=actor,
        agent_id=agent_id,
        event_agent_id=agent_id,
        outcome=outcome,
        duration_ms=duration_ms,
        evidence_ref=evidence_ref,
        error_message=error_message,
        executed_at=executed_at or timezone.now(),
        tags=("execution",),
    )


@service
def conflict_record(
    *,
    tenant,
    actor,
    activity_id,
    documents: list,
    chosen_path: str,
    justification: str,
    conflict_type: str = "",
    description: str = "",
) -> ActivityConflict:
    """Record how a conflict between source documents was resolved, and why."""
    require(actor, tenant, Perm.CREATE_ACTIVITY)
    activity = _activity(tenant, activity_id)
    if not (chosen_path or "").strip() or not (justification or "").strip():
        raise errors.ValidationError("A conflict resolution needs a chosen_path and a justification.")
    conflict = ActivityConflict.objects.create(
        tenant_id=activity.tenant_id,
        activity=activity,
        documents=documents,
        chosen_path=chosen_path,
        justification=justification,
        conflict_type=conflict_type,
        description=description,
        resolved_by=actor,
    )
    publish_registry_event(
        activity,
        "registry.conflict.resolved",
        actor=actor,
        source_object_type="conflict",
        source_object_id=conflict.conflict_id,
        tags=("conflict",),
        title=f"Conflict resolved for {activity}",
        conflict_id=str(conflict.conflict_id),
        chosen_path=chosen_path,
    )
    return conflict
