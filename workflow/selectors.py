"""Workflow reads: tenant-scoped lists, details, stats (they own select_related)."""

from __future__ import annotations

from django.db.models import Count, Q

from ocx.core.db import get_or_404
from workflow.models import (
    OPEN_TASK_STATES,
    ActionPlan,
    AutomationTrigger,
    DeliveryStatus,
    ExecutionStatus,
    SLAConfig,
    SLARecord,
    SLAStatus,
    StateTransition,
    Task,
    TaskState,
    TriggerExecution,
    WebhookDelivery,
)


def task_list(*, tenant, state: str | None = None, task_type: str | None = None, priority: str | None = None,
              assigned_to: str | None = None, action_plan_id: int | None = None):  # fmt: skip
    qs = Task.objects.for_tenant(tenant).select_related("created_by", "assigned_to", "sla")
    if state:
        qs = qs.filter(state__in=[s for s in state.split(",") if s])
    if task_type:
        qs = qs.filter(task_type=task_type)
    if priority:
        qs = qs.filter(priority=priority)
    if assigned_to:
        qs = qs.filter(assigned_to__username=assigned_to)
    if action_plan_id:
        qs = qs.filter(action_plan_id=action_plan_id)
    return qs.order_by("-created_at", "-id")


def task_get(*, tenant, task_id) -> Task:
    return get_or_404(task_list(tenant=tenant), "Task", details={}, pk=task_id)


def task_transitions(*, tenant, task_id, limit: int = 50) -> list[StateTransition]:
    return list(
        StateTransition.objects.for_tenant(tenant)
        .filter(entity_type="task", entity_id=task_id)
        .select_related("actor")
        .order_by("-id")[:limit]
    )


def action_plan_list(*, tenant, state: str | None = None):
    qs = ActionPlan.objects.for_tenant(tenant).select_related("created_by").annotate(task_count=Count("tasks"))
    if state:
        qs = qs.filter(state=state)
    return qs.order_by("-created_at", "-id")


def action_plan_get(*, tenant, plan_id) -> ActionPlan:
    return get_or_404(action_plan_list(tenant=tenant), "Action plan", details={}, pk=plan_id)


def sla_config_list(*, tenant, active_only: bool = False):
    """The tenant's configurations and the global defaults (``scope`` tells them apart)."""
    qs = SLAConfig.objects.filter(Q(tenant=tenant) | Q(tenant__isnull=True))
    if active_only:
        qs = qs.filter(active=True)
    return qs.order_by("task_type", "service_area", "tenant_id", "id")


def sla_config_get(*, tenant, config_id) -> SLAConfig:
    return get_or_404(sla_config_list(tenant=tenant), "SLA configuration", details={}, pk=config_id)


def _sla_figures(qs) -> dict:
    by_status = dict(qs.values_list("status").annotate(n=Count("id")).order_by())
    at_risk = qs.filter(status__in=[SLAStatus.RUNNING, SLAStatus.PAUSED], at_risk_notified_at__isnull=False).count()
    return {"by_status": {s: by_status.get(s, 0) for s in SLAStatus.values}, "at_risk": at_risk}


def workflow_stats(*, tenant) -> dict:
    """Seed 003's ``/stats``: tasks by state, SLA met/breached/at-risk, event processing."""
    from activity_feed.selectors import outbox_backlog

    tasks = dict(Task.objects.for_tenant(tenant).values_list("state").annotate(n=Count("id")).order_by())
    plans = dict(ActionPlan.objects.for_tenant(tenant).values_list("state").annotate(n=Count("id")).order_by())
    sla = _sla_figures(SLARecord.objects.for_tenant(tenant))
    outbox = outbox_backlog(tenant=tenant)
    executions = dict(
        TriggerExecution.objects.for_tenant(tenant).values_list("status").annotate(n=Count("id")).order_by()
    )
    webhooks = dict(WebhookDelivery.objects.for_tenant(tenant).values_list("status").annotate(n=Count("id")).order_by())
    recent_failures = [
        {
            "trigger_id": e.trigger_id,
            "trigger": e.trigger.name,
            "event_id": e.event_id,
            "event_type": e.event_type,
            "attempts": e.attempts,
            "error": e.error.strip().splitlines()[-1] if e.error.strip() else "",
            "at": e.updated_at.isoformat(),
        }
        for e in TriggerExecution.objects.for_tenant(tenant)
        .filter(status=ExecutionStatus.FAILED)
        .select_related("trigger")
        .order_by("-updated_at")[:10]
    ]
    by_state = {s: tasks.get(s, 0) for s in TaskState.values}
    return {
        "tasks": {
            "by_state": by_state,
            "total": sum(by_state.values()),
            "open": sum(by_state[s] for s in OPEN_TASK_STATES),
        },
        "action_plans": {"by_state": {s: plans.get(s, 0) for s in ("draft", "active", "archived")}},
        "sla": {
            "met": sla["by_status"][SLAStatus.MET],
            "breached": sla["by_status"][SLAStatus.BREACHED],
            "at_risk": sla["at_risk"],
            "running": sla["by_status"][SLAStatus.RUNNING],
            "paused": sla["by_status"][SLAStatus.PAUSED],
            "cancelled": sla["by_status"][SLAStatus.CANCELLED],
        },
        "events": {
            "outbox_backlog": outbox.get("pending", 0) + outbox.get("processing", 0),
            "outbox_pending": outbox.get("pending", 0),
            "outbox_processing": outbox.get("processing", 0),
            "outbox_failed": outbox.get("dead", 0),
        },
        "automation": {
            "active_triggers": AutomationTrigger.objects.filter(is_active=True)
            .filter(Q(tenant=tenant) | Q(tenant__isnull=True))
            .count(),
            "executions": {s: executions.get(s, 0) for s in ExecutionStatus.values},
            "failures": executions.get(ExecutionStatus.FAILED, 0),
            "recent_failures": recent_failures,
        },
        "webhooks": {s: webhooks.get(s, 0) for s in DeliveryStatus.values},
    }


def global_figures() -> dict:
    """Every tenant's figures, for /metrics (open task states and SLA statuses only)."""
    tasks = dict(
        Task.objects.all_tenants()
        .filter(state__in=OPEN_TASK_STATES)
        .values_list("state")
        .annotate(n=Count("id"))
        .order_by()
    )
    sla = _sla_figures(SLARecord.objects.all_tenants())
    return {
        "tasks_by_state": {s: tasks.get(s, 0) for s in OPEN_TASK_STATES},
        "sla_by_status": sla["by_status"],
        "sla_at_risk": sla["at_risk"],
        "trigger_failures": TriggerExecution.objects.all_tenants().filter(status=ExecutionStatus.FAILED).count(),
    }
