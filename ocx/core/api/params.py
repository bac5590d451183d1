"""Integers from the outside world (path segments, query strings, bodies), parsed in one place.

Python's ``int()`` takes any size, so an unchecked ``?offset=9223372036854775807`` or an id of
twenty digits reaches the database and fails there — OverflowError in SQLite's driver, DataError
("bigint out of range") in PostgreSQL — as an HTML 500. ``parse_int`` turns every such value into
a 400 ``VALIDATION_ERROR`` naming the parameter, with the signed 64-bit range (a ``bigint`` /
SQLite ``INTEGER``) as the default bounds.
"""

from __future__ import annotations

import re

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
    return errors.ValidationError(message, details={name: [message], "minimum": minimum, "maximum": maximum})


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
    message = f"{name} must be true or false."
    raise errors.ValidationError(message, details={name: [message]})


def parse_choice(params, name: str, choices) -> str | None:
    """A query parameter that must be one of ``choices`` when present (even empty): else 400."""
    if name not in params:
        return None
    value = params.get(name)
    if value not in choices:
        message = f"{name} must be one of: {', '.join(choices)}."
        raise errors.ValidationError(message, details={name: [message]})
    return value


def parse_path_id(value, *, name: str) -> int:
    """A row id from a URL path segment. An id that is not a whole number in ``[1, INT64_MAX]``
    names no row, so it is answered like an unknown one (404, as ``…/tasks/abc`` is), not 400."""
    try:
        return parse_int(value, name=name, minimum=1)
    except errors.ValidationError:
        raise errors.NotFound(f"{name} not found.") from None
