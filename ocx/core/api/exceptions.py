"""The one DRF exception handler: every error leaves the API in the same envelope.

An exception nothing maps (a bug) is answered 500 ``INTERNAL_ERROR`` with a ``request_id`` in
the details, the same id the log line with the traceback carries, so a caller's report finds
the traceback. Non-DRF code under ``/api/`` gets the same answers from
``ocx.core.api.middleware.ApiErrorMiddleware``.
"""

from __future__ import annotations

import logging
import re
import uuid

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.signals import got_request_exception
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import set_rollback

from ocx.core import errors

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
# A proxy's id is kept when it looks like one (it goes into logs: nothing else is trusted).
_INBOUND_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{8,128}")

_DRF_CODES: list[tuple[type[Exception], str]] = [
    (drf.ValidationError, "VALIDATION_ERROR"),
    (drf.ParseError, "MALFORMED_REQUEST"),
    (drf.NotAuthenticated, "NOT_AUTHENTICATED"),
    (drf.AuthenticationFailed, "AUTHENTICATION_FAILED"),
    (drf.PermissionDenied, "PERMISSION_DENIED"),
    (drf.NotFound, "NOT_FOUND"),
    (drf.MethodNotAllowed, "METHOD_NOT_ALLOWED"),
    (drf.NotAcceptable, "NOT_ACCEPTABLE"),
    (drf.UnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE"),
    (drf.Throttled, "RATE_LIMITED"),
]


def envelope(status: int, error_code: str, message: str, details=None, headers=None) -> Response:
    body = {"success": False, "error_code": error_code, "message": message, "details": details or {}}
    return Response(body, status=status, headers=headers)


def _first_message(detail) -> str:
    if isinstance(detail, dict):
        for key, value in detail.items():
            msg = _first_message(value)
            return msg if key == "non_field_errors" else f"{key}: {msg}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def _validation_envelope(details, headers=None) -> Response:
    """A serializer's or a model's validation errors, in the one ``details`` shape
    (``{"field": ["message", …]}``, nested fields flattened to ``field[0]`` / ``field.key``)."""
    flat = errors.field_errors(details, "The request is not valid.")
    return envelope(400, "VALIDATION_ERROR", _first_message(flat), flat, headers)


def request_id_of(request) -> str:
    """The request's id: a well-formed inbound ``X-Request-ID``, else a new one; the same for the
    whole request (set once on the Django request, which DRF's request wraps)."""
    request = getattr(request, "_request", request)
    request_id = getattr(request, "ocx_request_id", None)
    if request_id is None:
        inbound = request.META.get("HTTP_X_REQUEST_ID", "")
        request_id = inbound if _INBOUND_REQUEST_ID.fullmatch(inbound) else uuid.uuid4().hex
        request.ocx_request_id = request_id
    return request_id


def internal_error(exc, request) -> Response:
    """A bug: log it with its traceback and the request id, tell error reporters (Django's
    ``got_request_exception``, which it would have sent itself), answer the envelope."""
    request_id = request_id_of(request) if request is not None else uuid.uuid4().hex
    logger.error(
        "Unhandled %s on %s %s (request_id=%s)",
        type(exc).__name__,
        getattr(request, "method", "?"),
        getattr(request, "path", "?"),
        request_id,
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    if request is not None:
        got_request_exception.send(sender=None, request=getattr(request, "_request", request))
    return envelope(
        500,
        "INTERNAL_ERROR",
        "An unexpected error occurred. Quote the request_id when reporting it.",
        {"request_id": request_id},
        {REQUEST_ID_HEADER: request_id},
    )


def exception_handler(exc, context):
    # As DRF's own handler: an error answer must not commit a request-wide transaction.
    set_rollback()
    if isinstance(exc, errors.ApplicationError):
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, errors.RateLimited) else None
        return envelope(exc.status_code, exc.error_code, exc.message, exc.details, headers)

    if isinstance(exc, Http404):
        return envelope(404, "NOT_FOUND", "Not found.")
    if isinstance(exc, DjangoPermissionDenied):
        return envelope(403, "PERMISSION_DENIED", str(exc) or "Insufficient permissions")
    if isinstance(exc, RequestDataTooBig):
        return envelope(
            400,
            "PAYLOAD_TOO_LARGE",
            "The request body is too large.",
            {"max_bytes": settings.DATA_UPLOAD_MAX_MEMORY_SIZE},
        )
    if isinstance(exc, DjangoValidationError):
        details = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return _validation_envelope(details)

    if isinstance(exc, drf.APIException):
        code = next((c for cls, c in _DRF_CODES if isinstance(exc, cls)), "ERROR")
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait) + 1)
        if isinstance(exc, drf.ValidationError):
            details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
            return _validation_envelope(details, headers)
        return envelope(exc.status_code, code, _first_message(exc.detail), {}, headers)

    return internal_error(exc, context.get("request"))
