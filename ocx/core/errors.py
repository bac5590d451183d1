"""One error hierarchy for the whole product.

Services raise these; the DRF exception handler (ocx.core.api.exceptions) renders them as
``{"success": false, "error_code", "message", "details"}`` and the admin shows ``message``.
"""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    status_code = 400
    error_code = "APPLICATION_ERROR"
    default_message = "The request could not be completed."

    def __init__(
        self, message: str | None = None, *, details: dict[str, Any] | None = None, error_code: str | None = None
    ):
        self.message = message or self.default_message
        self.details = details or {}
        if error_code:
            self.error_code = error_code
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        return {"success": False, "error_code": self.error_code, "message": self.message, "details": self.details}


def field_errors(details: Any, message: str) -> dict[str, list[str]]:
    """``details`` in the one shape of a validation error: ``{"field": ["message", …]}``.

    Nested errors (a list's items, a nested object) are flattened to ``field[0]`` /
    ``field.key``; a value that is not a message (the offending value, ``"required"``, a bound)
    is replaced by the error's own ``message``, which says what is wrong."""
    flat: dict[str, list[str]] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for key, item in value.items():
                if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
                    walk(f"{prefix}[{key}]" if prefix else str(key), item)
                else:
                    walk(f"{prefix}.{key}" if prefix else str(key), item)
        elif isinstance(value, list | tuple) and value and all(isinstance(item, str) for item in value):
            flat.setdefault(prefix, []).extend(str(item) for item in value)
        elif isinstance(value, list | tuple) and value and all(isinstance(item, dict | list) for item in value):
            for index, item in enumerate(value):  # DRF's many=True: one entry per item, {} when valid
                if item:
                    walk(f"{prefix}[{index}]", item)
        else:
            flat.setdefault(prefix, []).append(message)

    if isinstance(details, dict):
        for key, value in details.items():
            if isinstance(value, list | tuple) and value and all(_is_message(item) for item in value):
                flat.setdefault(str(key), []).extend(str(item) for item in value)
            else:
                walk(str(key), value)
    elif details:
        flat["non_field_errors"] = [message]
    return flat


def _is_message(value: Any) -> bool:
    # A DRF ErrorDetail is a str; a bare value (an id, a bound) is not a message.
    return isinstance(value, str)


class ValidationError(ApplicationError):
    """A 400 ``VALIDATION_ERROR``; its ``details`` always in the shape ``field_errors`` gives."""

    status_code = 400
    error_code = "VALIDATION_ERROR"
    default_message = "The request is not valid."

    def __init__(
        self, message: str | None = None, *, details: dict[str, Any] | None = None, error_code: str | None = None
    ):
        super().__init__(message, details=details, error_code=error_code)
        if self.error_code == ValidationError.error_code:
            self.details = field_errors(self.details, self.message)


class PayloadTooLarge(ValidationError):
    error_code = "PAYLOAD_TOO_LARGE"
    default_message = "The request body is too large."


class InvalidTransition(ApplicationError):
    status_code = 400
    error_code = "INVALID_TRANSITION"

    def __init__(
        self, *, current_state: str, target_state: str, entity_type: str, message: str | None = None, **extra: Any
    ):
        super().__init__(
            message or f"Transition from {current_state} to {target_state} not allowed",
            details={"current_state": current_state, "target_state": target_state, "entity_type": entity_type, **extra},
        )


class AuthenticationRequired(ApplicationError):
    status_code = 401
    error_code = "NOT_AUTHENTICATED"
    default_message = "Authentication credentials were not provided or are not valid."


class PermissionDenied(ApplicationError):
    status_code = 403
    error_code = "PERMISSION_DENIED"
    default_message = "Insufficient permissions"


class NotFound(ApplicationError):
    status_code = 404
    error_code = "NOT_FOUND"
    default_message = "Not found."


class Conflict(ApplicationError):
    status_code = 409
    error_code = "CONFLICT"
    default_message = "The request conflicts with the current state."


class Immutable(Conflict):
    error_code = "IMMUTABLE"
    default_message = "This record is frozen and cannot be changed."


class RateLimited(ApplicationError):
    status_code = 429
    error_code = "RATE_LIMITED"
    default_message = "Too many requests."

    def __init__(self, message: str | None = None, *, retry_after: int = 1, **kwargs: Any):
        self.retry_after = max(1, int(retry_after))
        super().__init__(message, details={"retry_after": self.retry_after}, **kwargs)
