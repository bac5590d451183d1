"""JSON parsing with a size bound.

DRF reads the raw request stream, which bypasses Django's DATA_UPLOAD_MAX_MEMORY_SIZE, so the
bound is enforced here: oversized and malformed bodies both become a 400 in the envelope.
"""

import json

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from ocx.core.errors import PayloadTooLarge, ValidationError

NUL_MESSAGE = "Text cannot contain NUL (\\u0000) characters."


def contains_nul(value) -> bool:
    """Whether a parsed JSON value holds a NUL character in any string or key: PostgreSQL's
    text and jsonb cannot store one (the insert or the query would fail as a 500)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(contains_nul(k) or contains_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(contains_nul(item) for item in value)
    return False


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and str(declared).isdigit() and int(declared) > limit:
            raise PayloadTooLarge(details={"max_bytes": limit})
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(details={"max_bytes": limit})
        if not raw:
            return {}
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            data = json.loads(raw.decode(encoding), parse_constant=_reject_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"Malformed JSON: {exc}") from exc
        if contains_nul(data):
            raise ValidationError(NUL_MESSAGE, details={"non_field_errors": [NUL_MESSAGE]})
        return data


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")
