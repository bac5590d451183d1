"""Under ``/api/``, every answer is JSON: errors of code DRF does not run (the async SSE view, an
unknown path's 404, an exception a view outside DRF raises) leave in the same envelope as the
DRF views' (``ocx.core.api.exceptions``), never as Django's HTML pages.

Sync-only on purpose, like ``ocx.core.audit.AuditContextMiddleware`` (see the note in
settings.MIDDLEWARE): an async-capable middleware here would make the chain hop threads.
"""

from __future__ import annotations

import logging

from django.http import JsonResponse
from rest_framework.response import Response

from ocx.core.api.exceptions import REQUEST_ID_HEADER, exception_handler, request_id_of

logger = logging.getLogger(__name__)

API_PREFIX = "/api/"

_CODES = {
    400: ("MALFORMED_REQUEST", "The request is not valid."),
    401: ("NOT_AUTHENTICATED", "Authentication credentials were not provided or are not valid."),
    403: ("PERMISSION_DENIED", "Insufficient permissions"),
    404: ("NOT_FOUND", "Not found."),
    405: ("METHOD_NOT_ALLOWED", "Method not allowed."),
    413: ("PAYLOAD_TOO_LARGE", "The request body is too large."),
}


def _json(drf_response: Response) -> JsonResponse:
    response = JsonResponse(drf_response.data, status=drf_response.status_code)
    for name, value in drf_response.headers.items():
        if name.lower() != "content-type":
            response[name] = value
    return response


def _has_nul(request) -> bool:
    if "\x00" in request.path:
        return True
    return any("\x00" in key or any("\x00" in v for v in values) for key, values in request.GET.lists())


def _is_json(response) -> bool:
    return "json" in response.get("Content-Type", "")


class ApiErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        request_id = request_id_of(request)
        if _has_nul(request):
            # PostgreSQL cannot compare text with a NUL in it: refused here, for every view.
            body = {
                "success": False,
                "error_code": "VALIDATION_ERROR",
                "message": "The path and query cannot contain NUL (%00) characters.",
                "details": {},
            }
            response = JsonResponse(body, status=400)
            response[REQUEST_ID_HEADER] = request_id
            return response
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and not isinstance(response, Response)  # DRF's, already the envelope (or its browsable page)
            and not response.streaming
            and not _is_json(response)
        ):
            response = self._envelope(request, response.status_code, request_id)
        if REQUEST_ID_HEADER not in response:
            response[REQUEST_ID_HEADER] = request_id
        return response

    def process_exception(self, request, exception):
        """An exception a non-DRF view under /api/ raised: the DRF handler's answer, as JSON."""
        if not request.path.startswith(API_PREFIX):
            return None
        return _json(exception_handler(exception, {"request": request, "view": None}))

    def _envelope(self, request, status: int, request_id: str) -> JsonResponse:
        if status >= 500:
            # Django answered an exception outside any view (its traceback is logged by
            # django.request just before); the caller gets the envelope and the id.
            logger.error("%s %s answered %s (request_id=%s)", request.method, request.path, status, request_id)
            code, message, details = "INTERNAL_ERROR", "An unexpected error occurred.", {"request_id": request_id}
        else:
            code, message = _CODES.get(status, ("ERROR", "The request could not be completed."))
            details = {}
        body = {"success": False, "error_code": code, "message": message, "details": details}
        return JsonResponse(body, status=status)
