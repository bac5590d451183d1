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

from django.db.models import Q

from ocx.core import errors
from ocx.core.db import get_or_404
from ocx.core.services import service
from registry.models import Deployment, Execution, ExecutionOutcome
from registry.services.executions import _record_execution


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
    return _record_execution(
        activity=activity,
        deployment=deployment,
        actor=actor,
        agent_id=(agent_id or "")[:200],
        event_agent_id=agent_id,
        outcome=outcome,
        duration_ms=max(0, int(duration_ms)),
        evidence_ref=evidence_ref,
        error_message=error_message,
        executed_at=executed_at,
        tags=("execution", "run"),
        deployment_status=deployment.status,
    )
