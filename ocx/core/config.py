"""The one way OCX reads its configuration from the environment.

``ocx/settings.py`` declares every variable with :func:`env` — its name (``OCX_…``, or an
industry-standard name such as ``DATABASE_URL``), its default (written there and nowhere else),
how to parse it, and the older names still accepted as aliases. Everything else reads plain
Django settings. Each declaration is recorded in :data:`DECLARED`, so a test can compare what
the code reads with the README's configuration tables.

This module reads ``os.environ`` only: it imports no app and nothing that needs Django to be
configured, so ``settings.py`` can use it before ``django.setup()``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def as_bool(raw: str) -> bool:
    """``true/false``, ``1/0``, ``yes/no``, ``on/off`` (any case); anything else is an error."""
    value = raw.strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ValueError(f"expected one of {', '.join(sorted(TRUE_WORDS | FALSE_WORDS))}")


def as_list(raw: str) -> list[str]:
    """A comma-separated list; blanks around items and empty items are dropped."""
    return [item.strip() for item in raw.split(",") if item.strip()]


_KINDS = {int: "integer", float: "number", as_bool: "boolean", as_list: "comma-separated list"}


@dataclass(frozen=True)
class Variable:
    """One declared environment variable."""

    name: str
    default: Any
    cast: Callable[[str], Any]
    aliases: tuple[str, ...] = ()


# name -> declaration, in declaration order (filled as settings.py is executed).
DECLARED: dict[str, Variable] = {}


def env(name: str, default: Any, cast: Callable[[str], Any] = str, *, aliases: Iterable[str] = ()) -> Any:
    """The value of environment variable ``name`` (else the first alias set), parsed by ``cast``.

    Unset or blank → ``default`` (returned as is, not parsed). A value ``cast`` refuses
    (``ValueError``/``TypeError``) raises :class:`ImproperlyConfigured` naming the variable.
    """
    variable = Variable(name, default, cast, tuple(aliases))
    declared = DECLARED.setdefault(name, variable)
    if (declared.default, declared.aliases) != (variable.default, variable.aliases):
        raise ImproperlyConfigured(f"{name} is declared twice with different defaults or aliases.")
    for key in (name, *variable.aliases):
        raw = os.environ.get(key)
        if raw is not None and raw.strip():
            break
    else:
        return default
    try:
        return cast(raw)
    except (ValueError, TypeError) as exc:
        label = key if key == name else f"{key} (alias of {name})"
        kind = _KINDS.get(cast, "value")
        raise ImproperlyConfigured(f"{label}={raw!r} is not a valid {kind}: {exc}") from exc
