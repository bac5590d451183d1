"""The ``constraints`` JSON of workspace members and work units: its schema (JSON Schema, also
shown in the README and the OpenAPI description), its validation, and what it means when a run
is started in a workspace.

A member's constraints narrow what that member may run there; a work unit's constraints narrow
how anyone may run it there. Every key is optional; an empty or null object constrains nothing::

    {"allowed_work_units": ["PO_Approval"],      # member only: work unit ids (activity names)
     "allowed_roles": ["owner", "admin"],          # work unit only: workspace roles that may run it
     "allowed_environments": ["DEV", "STAGING"],
     "max_priority": 10,
     "max_input_bytes": 4096,
     "valid_until": "2026-12-31T23:59:59Z"}      # ISO 8601 with a time zone
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from ocx.core import errors

_COMMON: dict[str, Any] = {
    "allowed_environments": {
        "type": "array",
        "items": {"enum": ["DEV", "STAGING", "PROD"]},
        "uniqueItems": True,
        "description": "Environments a run may target.",
    },
    "max_priority": {"type": "integer", "minimum": -100, "maximum": 100, "description": "Highest run priority."},
    "max_input_bytes": {"type": "integer", "minimum": 0, "description": "Largest run input (compact JSON)."},
    "valid_until": {"type": "string", "minLength": 1, "description": "ISO 8601 instant after which runs are refused."},
}

MEMBER_CONSTRAINTS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Workspace member constraints",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "allowed_work_units": {
            "type": "array",
            "items": {"type": "string", "minLength": 1, "maxLength": 200},
            "uniqueItems": True,
            "maxItems": 500,
            "description": "Work unit ids (activity names) the member may run here.",
        },
        **_COMMON,
    },
}

WORK_UNIT_CONSTRAINTS_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Workspace work unit constraints",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "allowed_roles": {
            "type": "array",
            "items": {"enum": ["owner", "admin", "member"]},
            "uniqueItems": True,
            "description": "Workspace roles that may run this work unit here.",
        },
        **_COMMON,
    },
}

_VALIDATORS = {
    id(MEMBER_CONSTRAINTS_SCHEMA): jsonschema.Draft202012Validator(MEMBER_CONSTRAINTS_SCHEMA),
    id(WORK_UNIT_CONSTRAINTS_SCHEMA): jsonschema.Draft202012Validator(WORK_UNIT_CONSTRAINTS_SCHEMA),
}


def validate_constraints(value, *, schema: dict, field: str = "constraints") -> dict | None:
    """``value`` checked against ``schema`` (VALIDATION_ERROR naming every problem); null stays null."""
    if value is None:
        return None
    problems = sorted(_VALIDATORS[id(schema)].iter_errors(value), key=lambda e: list(e.absolute_path))
    messages = [f"{'/'.join(str(p) for p in e.absolute_path) or '(root)'}: {e.message}" for e in problems]
    if isinstance(value, dict) and "valid_until" in value and not problems:
        moment = parse_datetime(str(value["valid_until"]))
        if moment is None or timezone.is_naive(moment):
            messages.append("valid_until: must be an ISO 8601 date-time with a time zone")
    if messages:
        raise errors.ValidationError(
            f"{field} does not match its schema: {messages[0]}", details={field: messages, "schema": schema["title"]}
        )
    return value


def input_bytes(value) -> int:
    """The size of a JSON value as stored: compact UTF-8."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str).encode())


def check_run_allowed(
    *, member_role: str, member_constraints: dict | None, unit_constraints: dict | None, request: dict
) -> None:
    """Refuse (PERMISSION_DENIED, naming the constraint) a run in a workspace that a member's or a
    work unit's constraints do not allow. ``request``: work_unit_id, environment, priority, input."""
    for owner, constraints in (("member", member_constraints), ("work_unit", unit_constraints)):
        for key, allowed in (constraints or {}).items():
            refused = _refuses(key, allowed, member_role=member_role, request=request)
            if refused:
                raise errors.PermissionDenied(
                    f"The workspace {owner.replace('_', ' ')} constraints do not allow this run: {refused}.",
                    details={"constraint": key, "constrained": owner},
                )


def _refuses(key: str, allowed, *, member_role: str, request: dict) -> str | None:
    if key == "allowed_work_units" and request["work_unit_id"] not in allowed:
        return f"{request['work_unit_id']} is not among the allowed work units"
    if key == "allowed_roles" and member_role not in allowed:
        return f"the {member_role} role may not run it"
    if key == "allowed_environments" and request["environment"] not in allowed:
        return f"environment {request['environment']} is not allowed"
    if key == "max_priority" and request["priority"] > allowed:
        return f"priority {request['priority']} is above {allowed}"
    if key == "max_input_bytes" and input_bytes(request["input"]) > allowed:
        return f"the input is larger than {allowed} bytes"
    if key == "valid_until":
        moment = parse_datetime(str(allowed))
        if moment is not None and timezone.now() >= moment:
            return f"they expired at {allowed}"
    return None
