"""The cross-tenant probe's machinery: every route of the URL conf, and which object of
tenant A each path parameter names. Generated from ``get_resolver()``, so a new route is probed
without anyone listing it; a route whose parameters the probe cannot fill fails the probe."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Route:
    name: str  # "v1:workflow-task-detail" (namespaces joined), or the pattern when unnamed
    pattern: str  # the full pattern text, "api/v1/workflow/tasks/<str:pk>"
    params: tuple[str, ...]
    callback: Callable

    def url(self, **kwargs) -> str:
        path = self.pattern
        for name, converter in _converters(self.pattern):
            token = f"<{converter}:{name}>" if converter else f"<{name}>"
            path = path.replace(token, str(kwargs[name]))
        return "/" + path


def _converters(pattern: str) -> Iterator[tuple[str, str]]:
    import re

    for converter, name in re.findall(r"<(?:(\w+):)?(\w+)>", pattern):
        yield name, converter


def routes(prefix: str = "") -> list[Route]:
    """Every URL pattern (in every include) whose full text starts with ``prefix``."""
    found: list[Route] = []

    def walk(resolver: URLResolver, text: str, namespace: str) -> None:
        for entry in resolver.url_patterns:
            pattern = str(entry.pattern)
            if isinstance(entry, URLResolver):
                ns = namespace
                if entry.namespace:
                    ns = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
                walk(entry, text + pattern, ns)
            elif isinstance(entry, URLPattern):
                full = text + pattern
                name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name or full
                params = tuple(n for n, _ in _converters(full))
                found.append(Route(name=name, pattern=full, params=params, callback=entry.callback))

    walk(get_resolver(), "", "")
    return [r for r in found if r.pattern.startswith(prefix)]


def missing_value(param: str, a_value) -> str:
    """An id of the same shape as ``a_value`` that names nothing."""
    text = str(a_value)
    try:
        uuid.UUID(text)
        return str(uuid.UUID(int=0xDEAD))
    except ValueError:
        pass
    return "987654321" if text.isdigit() else "no-such-object-zz"
