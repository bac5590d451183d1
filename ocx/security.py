"""Login lockout answers (django-axes) and the guard of ``/metrics``."""

from __future__ import annotations

import functools
import hmac
import ipaddress

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render

from ocx.core import errors


def lockout_seconds() -> int:
    cool_off = settings.AXES_COOLOFF_TIME
    return max(1, int(cool_off.total_seconds())) if cool_off else 3600


def lockout_error() -> errors.RateLimited:
    minutes = max(1, lockout_seconds() // 60)
    return errors.RateLimited(
        f"Too many failed logins: this account is locked on this address for {minutes} minute(s). "
        "An administrator can lift the lockout.",
        retry_after=lockout_seconds(),
        error_code="LOGIN_LOCKED_OUT",
    )


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """``AXES_LOCKOUT_CALLABLE``: the API's 429 envelope under ``/api/``, the admin's styled page
    (also a 429) everywhere else. Both say when to retry."""
    error = lockout_error()
    if request.path.startswith("/api/"):
        response = JsonResponse(error.as_dict(), status=error.status_code)
    else:
        context = {
            "title": "Too many failed logins",
            "message": error.message,
            "retry_after_minutes": max(1, error.retry_after // 60),
        }
        response = render(request, "ocx/lockout.html", context, status=error.status_code)
    response["Retry-After"] = str(error.retry_after)
    return response


# --- /metrics ---------------------------------------------------------------------------------
@functools.cache
def _allowed_networks(entries: tuple[str, ...]):
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def metrics_allowed(request) -> bool:
    """A request from an allowed address, or bearing the metrics token."""
    token = settings.OCX_METRICS_TOKEN
    if token:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode()):
            return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in _allowed_networks(tuple(settings.OCX_METRICS_ALLOWED_IPS)))


def protect_metrics(view):
    """Wrap django-prometheus's view: 403 unless ``metrics_allowed``."""

    @functools.wraps(view)
    def guarded(request, *args, **kwargs):
        if not metrics_allowed(request):
            return HttpResponse(
                "Forbidden: /metrics answers the addresses in OCX_METRICS_ALLOWED_IPS "
                "or `Authorization: Bearer <OCX_METRICS_TOKEN>`.\n",
                status=403,
                content_type="text/plain",
            )
        return view(request, *args, **kwargs)

    return guarded
