"""The OpenAPI schema says what the server does (drf-spectacular's ``DEFAULT_SCHEMA_CLASS``).

Centrally, for every operation:

- the error answers every API view can give, in the one envelope (the ``ErrorEnvelope``
  component): 400 (``VALIDATION_ERROR``, ``MALFORMED_REQUEST``, ``INVALID_TRANSITION``,
  ``PAYLOAD_TOO_LARGE``), 401, 403; 404 when the path names an object (or a page number can be
  past the last page); 415 when there is a request body; 429 when the view is throttled;
- a view declares what only it can answer with ``error_statuses`` — ``{"POST": (409,)}``, ``"*"``
  for every method — e.g. 409 where its service raises ``Conflict`` / ``Immutable``, 429 where it
  calls a rate limit;
- request bodies of strict input serializers (``ocx.core.api.serializers.StrictInputMixin``)
  refuse unknown fields, so their schema says ``additionalProperties: false``.

Paginated lists get their real envelope from the view's ``pagination_class`` (drf-spectacular
wraps a ``many=True`` response in the paginator's schema); the event feed's keyset page is its
own serializer. ``/api/v1/events/stream`` (a plain async Django view drf-spectacular cannot see)
is added by ``activity_feed.sse.add_to_schema`` (a postprocessing hook).
"""

from __future__ import annotations

from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from ocx.core.api.pagination import PageNumberPagination
from ocx.core.api.serializers import StrictInputMixin

ERROR_DESCRIPTIONS = {
    "400": "VALIDATION_ERROR, MALFORMED_REQUEST, PAYLOAD_TOO_LARGE or INVALID_TRANSITION",
    "401": "NOT_AUTHENTICATED or AUTHENTICATION_FAILED",
    "403": "PERMISSION_DENIED (including an X-Tenant the caller is not a member of)",
    "404": "NOT_FOUND (also another tenant's row: existence does not leak)",
    "409": "CONFLICT or IMMUTABLE",
    "405": "METHOD_NOT_ALLOWED",
    "415": "UNSUPPORTED_MEDIA_TYPE (the API accepts application/json only)",
    "429": "RATE_LIMITED (see Retry-After)",
    "500": "INTERNAL_ERROR (with a request_id)",
}
BODY_METHODS = {"POST", "PUT", "PATCH"}


def int_parameter(name: str, minimum: int, maximum: int, description: str = "") -> OpenApiParameter:
    """An optional integer query parameter with the bounds the view's ``parse_int`` enforces."""
    return OpenApiParameter(name, {"type": "integer", "minimum": minimum, "maximum": maximum}, description=description)


def bool_parameter(name: str, description: str = "") -> OpenApiParameter:
    """An optional boolean query parameter, as ``params.parse_bool`` reads it."""
    from ocx.core.api.params import FALSE_STRINGS, TRUE_STRINGS

    return OpenApiParameter(name, {"type": "string", "enum": [*TRUE_STRINGS, *FALSE_STRINGS]}, description=description)


def uuid_parameter(name: str, description: str = "") -> OpenApiParameter:
    """A required UUID query parameter (absent or malformed: 400)."""
    return OpenApiParameter(name, {"type": "string", "format": "uuid"}, required=True, description=description)


class ErrorEnvelope(serializers.Serializer):
    """Every error of the API (DESIGN.md): ``success`` is always false."""

    success = serializers.BooleanField(help_text="Always false.")
    error_code = serializers.CharField(help_text="VALIDATION_ERROR, NOT_FOUND, CONFLICT, …")
    message = serializers.CharField()
    details = serializers.DictField(help_text="Per-field messages, bounds, the request_id of a 500, …")


class AutoSchema(openapi.AutoSchema):
    def error_statuses(self) -> set[str]:
        codes = {"400", "401", "403"}
        if "{" in self.path:
            codes.add("404")
        if self.method == "GET" and isinstance(self._get_paginator(), PageNumberPagination):
            codes.add("404")  # "Invalid page." past the last page
        if self.method in BODY_METHODS:
            codes.add("415")
        if getattr(self.view, "throttle_classes", None):
            codes.add("429")
        declared = getattr(self.view, "error_statuses", None) or {}
        for key in ("*", self.method):
            codes.update(str(code) for code in declared.get(key, ()))
        return codes

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        envelope = None
        # Every error leaves in the one envelope (ocx.core.api.exceptions); a view's own declaration
        # with a body (runs' Error serializer, the same shape) is kept.
        for code in sorted(self.error_statuses() | {c for c in responses if c >= "400"}):
            response = responses.get(code)
            if response is not None and response.get("content"):
                continue
            if envelope is None:
                envelope = self._get_response_for_code(ErrorEnvelope, code, direction=direction)["content"]
            description = (response or {}).get("description") or ERROR_DESCRIPTIONS.get(code, "Error")
            responses[code] = {**(response or {}), "description": description, "content": envelope}
        return dict(sorted(responses.items()))

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "request" and isinstance(serializer, StrictInputMixin):
            schema["additionalProperties"] = False
        return schema
