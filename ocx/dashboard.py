"""The operators' live dashboard: the tenant's figures (registry, workflow, event spine) and its
events as they happen, over the WebSocket; figures refresh when an event arrives."""

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render

from activity_feed import selectors
from ocx.core import errors
from ocx.core.tenancy import resolve_tenant


def summary(tenant) -> dict:
    from registry.selectors import registry_summary
    from workflow.selectors import workflow_stats

    workflow = workflow_stats(tenant=tenant)
    return {
        "registry": registry_summary(tenant=tenant),
        "workflow": {
            "tasks": workflow["tasks"],
            "sla": workflow["sla"],
            "automation_failures": workflow["automation"]["failures"],
        },
        "events": workflow["events"],
    }


def _tenant_or_403(request):
    return resolve_tenant(request.user, request.GET.get("tenant"))


@login_required
def dashboard(request):
    try:
        tenant = _tenant_or_403(request)
    except errors.PermissionDenied as exc:
        return render(request, "ocx/dashboard.html", {"error": exc.message}, status=403)
    events = list(selectors.event_list(tenant=tenant)[:50])
    tenants = [m.tenant for m in request.user.memberships.select_related("tenant").order_by("tenant__slug")]
    context = {"tenant": tenant, "events": events, "tenants": tenants, "summary": summary(tenant)}
    return render(request, "ocx/dashboard.html", context)


@login_required
def dashboard_summary(request):
    """The dashboard's figures as JSON (the page refreshes them when events arrive)."""
    try:
        tenant = _tenant_or_403(request)
    except errors.PermissionDenied as exc:
        return JsonResponse(errors.PermissionDenied(exc.message).as_dict(), status=403)
    return JsonResponse(summary(tenant))
