"""The one DRF exception handler: every error leaves the API in the same envelope."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework.response import Response

from ocx.core import errors

logger = logging.getLogger(__name__)

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


def exception_handler(exc, context):
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
        return envelope(400, "VALIDATION_ERROR", _first_message(details), details)

    if isinstance(exc, drf.APIException):
        code = next((c for cls, c in _DRF_CODES if isinstance(exc, cls)), "ERROR")
        headers = {}
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait) + 1)
        if isinstance(exc, drf.ValidationError):
            details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
            return envelope(400, code, _first_message(details), details, headers)
        return envelope(exc.status_code, code, _first_message(exc.detail), {}, headers)

    # Anything else is a bug: let Django's 500 handling (and logging) see it.
    return None
