"""Integers from the outside world (path segments, query strings, bodies), parsed in one place.

Python's ``int()`` takes any size, so an unchecked ``?offset=9223372036854775807`` or an id of
twenty digits reaches the database and fails there — OverflowError in SQLite's driver, DataError
("bigint out of range") in PostgreSQL — as an HTML 500. ``parse_int`` turns every such value into
a 400 ``VALIDATION_ERROR`` naming the parameter, with the signed 64-bit range (a ``bigint`` /
SQLite ``INTEGER``) as the default bounds.
"""

from __future__ import annotations

import re

from django.utils.dateparse import parse_datetime

from ocx.core import errors

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1  # an ``integer`` column (Django's IntegerField / PositiveIntegerField)

# ASCII digits only: int() also accepts "1_000", " 12 " and other scripts' digits ("١٢").
_INTEGER = re.compile(r"[+-]?[0-9]{1,32}")


def parse_int(
    value,
    *,
    name: str,
    minimum: int = INT64_MIN,
    maximum: int = INT64_MAX,
    default: int | None = None,
) -> int | None:
    """``value`` as an int within ``[minimum, maximum]``; ``default`` when absent or empty.

    Anything else (not a whole number, out of range) raises ``errors.ValidationError`` (400)
    whose details name the parameter and the accepted range.
    """
    if value is None or (isinstance(value, str) and value == ""):
        return default
    if isinstance(value, bool):  # bool is an int subclass: a JSON ``true`` is not a number
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, str) and _INTEGER.fullmatch(value):
        number = int(value)
    else:
        number = None
    if number is None:
        raise _invalid(name, minimum, maximum, f"{name} must be a whole number.")
    if number < minimum:
        raise _invalid(name, minimum, maximum, f"{name} must be at least {minimum}.")
    if number > maximum:
        raise _invalid(name, minimum, maximum, f"{name} must be at most {maximum}.")
    return number


def _invalid(name: str, minimum: int, maximum: int, message: str) -> errors.ValidationError:
    # The accepted range is in the message: ``details`` holds messages only ({"page": ["…"]}).
    message = f"{message[:-1]} (from {minimum} to {maximum})."
    return errors.ValidationError(message, details={name: [message]})


# Booleans in a query string: what clients send (``requests`` writes True as "True").
TRUE_STRINGS = ("true", "True", "1", "yes")
FALSE_STRINGS = ("false", "False", "0", "no")


def parse_bool(value, *, name: str, default: bool = False) -> bool:
    """``value`` (a query string's) as a bool; ``default`` when absent. Anything but
    ``TRUE_STRINGS`` / ``FALSE_STRINGS`` is a 400 naming the parameter."""
    if value is None:
        return default
    if value in TRUE_STRINGS:
        return True
    if value in FALSE_STRINGS:
        return False
    raise _unknown_choice(name, [value], (*TRUE_STRINGS, *FALSE_STRINGS))


def _unknown_choice(name: str, values, choices) -> errors.ValidationError:
    shown = ", ".join(repr(v) for v in values)
    message = f"{name}: unknown value {shown}; allowed: {', '.join(choices)}."
    return errors.ValidationError(message, details={name: [message]})


def parse_choice(params, name: str, choices) -> str | None:
    """A query parameter that must be one of ``choices`` when present (even empty): else a 400
    whose message lists the allowed values."""
    if name not in params:
        return None
    value = params.get(name)
    if value not in choices:
        raise _unknown_choice(name, [value], choices)
    return value


def parse_choices(params, name: str, choices, *, aliases: tuple[str, ...] = ()) -> list[str] | None:
    """A multi-valued choice parameter (``?state=new,blocked`` or repeated ``?state=new&state=blocked``,
    also under ``aliases``): None when absent, else the values, every one of ``choices``; an
    unknown or empty value is a 400 listing the allowed values."""
    names = [n for n in (name, *aliases) if n in params]
    if not names:
        return None
    raw = [item for n in names for item in (params.getlist(n) if hasattr(params, "getlist") else [params[n]])]
    values = [part.strip() for item in raw for part in str(item).split(",")]
    unknown = [v for v in values if v not in choices]
    if unknown:
        raise _unknown_choice(name, unknown, choices)
    return list(dict.fromkeys(values))


def parse_datetime_param(value, *, name: str):
    """An ISO 8601 date-time query parameter: None when absent or empty, else the datetime; a
    malformed or impossible value (month 13, which Django's parser raises on) is a 400 naming it."""
    if not value:
        return None
    try:
        moment = parse_datetime(str(value))
    except ValueError:
        moment = None
    if moment is None:
        raise errors.ValidationError(f"{name} must be an ISO 8601 date-time.", details={name: value})
    return moment


def parse_path_id(value, *, name: str) -> int:
    """A row id from a URL path segment. An id that is not a whole number in ``[1, INT64_MAX]``
    names no row, so it is answered like an unknown one (404, as ``…/tasks/abc`` is), not 400."""
    try:
        return parse_int(value, name=name, minimum=1)
    except errors.ValidationError:
        raise errors.NotFound(f"{name} not found.") from None
