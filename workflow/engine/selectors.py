"""Engine reads, tenant-scoped."""

from __future__ import annotations

from django.db.models import Count, Max, Min, Prefetch

from activity_feed.selectors import event_list
from ocx.core.db import get_or_404
from workflow.engine.models import (
    ActivityAttempt,
    ActivityInstance,
    ActivityTemplate,
    Incident,
    PhaseTemplate,
    WorkflowInstance,
    WorkflowTemplate,
)


def template_list(*, tenant, name: str | None = None, status: str | None = None):
    qs = WorkflowTemplate.objects.for_tenant(tenant)
    if name:
        qs = qs.filter(name=name)
    if status:
        qs = qs.filter(status=status)
    return qs.annotate(activity_count=Count("activities")).order_by("name", "-version")


def template_get(*, tenant, template_id) -> WorkflowTemplate:
    qs = WorkflowTemplate.objects.for_tenant(tenant).prefetch_related(
        Prefetch("phases", queryset=PhaseTemplate.objects.order_by("order")),
        Prefetch("activities", queryset=ActivityTemplate.objects.order_by("phase__order", "position")),
    )
    return get_or_404(qs, "Workflow template", pk=template_id)


def instance_list(
    *,
    tenant,
    template_id=None,
    template_name=None,
    states: list[str] | None = None,
    started_after=None,
    started_before=None,
):
    qs = WorkflowInstance.objects.for_tenant(tenant).select_related("template", "started_by")
    if template_id:
        qs = qs.filter(template_id=template_id)
    if template_name:
        qs = qs.filter(template__name=template_name)
    if states:
        qs = qs.filter(state__in=states)
    if started_after:
        qs = qs.filter(created_at__gte=started_after)
    if started_before:
        qs = qs.filter(created_at__lt=started_before)
    return qs.order_by("-created_at", "-id")


def instance_get(*, tenant, instance_id) -> WorkflowInstance:
    qs = (
        WorkflowInstance.objects.for_tenant(tenant)
        .select_related("template", "started_by")
        .prefetch_related(
            Prefetch(
                "activities",
                queryset=ActivityInstance.objects.for_tenant(tenant)
                .select_related("activity_template__phase")
                .prefetch_related(
                    Prefetch("attempts", queryset=ActivityAttempt.objects.for_tenant(tenant).order_by("number"))
                )
                .order_by("id"),
            )
        )
    )
    return get_or_404(qs, "Workflow instance", pk=instance_id)


def instance_timeline(*, tenant, instance_id) -> list:
    get_or_404(WorkflowInstance.objects.for_tenant(tenant), "Workflow instance", pk=instance_id)
    events = event_list(tenant=tenant, filters={"correlation_id": f"workflow-instance-{instance_id}"})
    return list(events.order_by("timestamp", "id")[:1000])


def incident_groups(*, tenant, open_only: bool = True, template_id=None) -> list[dict]:
    qs = Incident.objects.for_tenant(tenant)
    if open_only:
        qs = qs.filter(resolved_at__isnull=True)
    if template_id:
        qs = qs.filter(workflow__template_id=template_id)
    return list(
        qs.values("error_type", "message")
        .annotate(
            count=Count("id"),
            instances=Count("workflow", distinct=True),
            first_seen=Min("created_at"),
            last_seen=Max("created_at"),
        )
        .order_by("-count", "error_type", "message")
    )


def incident_list(*, tenant, open_only: bool = True, template_id=None, error_type=None):
    qs = Incident.objects.for_tenant(tenant).select_related("activity")
    if open_only:
        qs = qs.filter(resolved_at__isnull=True)
    if template_id:
        qs = qs.filter(workflow__template_id=template_id)
    if error_type:
        qs = qs.filter(error_type=error_type)
    return qs.order_by("-created_at", "-id")
