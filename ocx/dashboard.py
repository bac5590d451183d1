"""The operators' live dashboard: the tenant's figures (registry, workflow, event spine) and its
events as they happen, over the WebSocket; figures refresh when an event arrives."""

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode

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


def _user_tenants(user) -> list:
    return [m.tenant for m in user.memberships.select_related("tenant").order_by("tenant__slug")]


def pending_approvals_url(tenant) -> str:
    """The admin's approvals queue showing what the dashboard counts: every pending approval
    of the tenant ("All pending", that tenant)."""
    query = urlencode({"queue": "pending", "tenant__id__exact": tenant.pk})
    return f"{reverse('admin:registry_approval_changelist')}?{query}"


@login_required
def dashboard(request):
    tenants = _user_tenants(request.user)
    try:
        tenant = _tenant_or_403(request)
    except errors.PermissionDenied as exc:
        # The reason and a way back (the user's own tenants), not a page waiting for ever.
        return render(request, "ocx/dashboard.html", {"error": exc.message, "tenants": tenants}, status=403)
    events = list(selectors.event_list(tenant=tenant)[:50])
    context = {
        "tenant": tenant,
        "events": events,
        "tenants": tenants,
        "summary": summary(tenant),
        "pending_approvals_url": pending_approvals_url(tenant),
    }
    return render(request, "ocx/dashboard.html", context)


@login_required
def dashboard_summary(request):
    """The dashboard's figures as JSON (the page refreshes them when events arrive)."""
    try:
        tenant = _tenant_or_403(request)
    except errors.PermissionDenied as exc:
        return JsonResponse(errors.PermissionDenied(exc.message).as_dict(), status=403)
    return JsonResponse(summary(tenant))
