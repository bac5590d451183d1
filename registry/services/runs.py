"""What the runs app needs of the registry beyond the seed's API: recording the execution of a
finished run against the deployment it ran on.

``execution_record`` (an agent reporting through ``POST …/executions``) accepts ACTIVE
deployments only. A run records the deployment it started on, and that deployment may have
been superseded, rolled back or suspended while the run was executing: what ran still ran, and
the registry's ``/stats`` must count it. The runs services call this in the transaction that
finishes the run, after authorising the report themselves (the agent's lease, or the system
for in-process runs and the lease sweep), so it checks no permission of its own.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import F, Q, Value
from django.db.models.functions import Coalesce, Greatest

from ocx.core import errors
from ocx.core.db import get_or_404
from ocx.core.services import service
from registry.models import Deployment, Execution, ExecutionOutcome, ExecutionStats
from registry.services.common import publish_registry_event


@service
def execution_record_for_run(
    *,
    tenant,
    actor,
    activity_id,
    deployment_id,
    outcome: str,
    duration_ms: int,
    executed_at: datetime,
    agent_id: str = "",
    evidence_ref: str = "",
    error_message: str = "",
) -> Execution:
    """Record a finished run as one execution of the deployment it ran on (owned by or deployed
    to ``tenant``), whatever that deployment's status is now; the ``…/stats`` totals move in the
    same transaction."""
    if outcome not in ExecutionOutcome.values:
        raise errors.ValidationError("outcome must be SUCCESS or FAILURE.", details={"outcome": outcome})
    tenant_id = getattr(tenant, "pk", tenant)
    deployment = get_or_404(
        Deployment.objects.all_tenants()
        .filter(Q(tenant_id=tenant_id) | Q(target_tenant_id=tenant_id))
        .select_related("activity"),
        "Deployment",
        pk=deployment_id,
        activity_id=activity_id,
    )
    activity = deployment.activity
    execution = Execution.objects.create(
        tenant_id=activity.tenant_id,
        activity=activity,
        deployment=deployment,
        agent_id=(agent_id or "")[:200],
        outcome=outcome,
        duration_ms=max(0, int(duration_ms)),
        evidence_ref=evidence_ref,
        error_message=error_message,
        executed_at=executed_at,
        recorded_by=actor if getattr(actor, "pk", None) else None,
    )
    success = outcome == ExecutionOutcome.SUCCESS
    # One atomic UPDATE, as execution_record does: concurrent runs never lose a count.
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
        tags=("execution", "run"),
        title=f"{activity} execution {'succeeded' if success else 'failed'} in {deployment.environment}",
        description=error_message,
        priority="low" if success else "high",
        execution_id=str(execution.execution_id),
        deployment_id=str(deployment.pk),
        deployment_status=deployment.status,
        outcome=outcome,
        duration_ms=execution.duration_ms,
        evidence_ref=evidence_ref,
        agent_id=agent_id,
    )
    return execution
