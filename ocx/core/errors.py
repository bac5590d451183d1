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


class ValidationError(ApplicationError):
    status_code = 400
    error_code = "VALIDATION_ERROR"
    default_message = "The request is not valid."


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
