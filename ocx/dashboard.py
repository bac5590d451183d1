"""The operators' live dashboard: recent events of the tenant, updated over the WebSocket."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from activity_feed import selectors
from ocx import errors
from ocx.tenancy import resolve_tenant


@login_required
def dashboard(request):
    try:
        tenant = resolve_tenant(request.user, request.GET.get("tenant"))
    except errors.PermissionDenied as exc:
        return render(request, "ocx/dashboard.html", {"error": exc.message}, status=403)
    events = list(selectors.event_list(tenant=tenant)[:50])
    tenants = [m.tenant for m in request.user.memberships.select_related("tenant").order_by("tenant__slug")]
    return render(request, "ocx/dashboard.html", {"tenant": tenant, "events": events, "tenants": tenants})
