"""JSON parsing with a size bound.

DRF reads the raw request stream, which bypasses Django's DATA_UPLOAD_MAX_MEMORY_SIZE, so the
bound is enforced here: oversized and malformed bodies both become a 400 in the envelope.
"""

import json

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from ocx.core.errors import PayloadTooLarge


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
            return json.loads(raw.decode(encoding), parse_constant=_reject_constant)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"Malformed JSON: {exc}") from exc


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")
