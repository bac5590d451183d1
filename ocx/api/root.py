"""``GET /api/v1/``: the API's front page, every endpoint under it, browsable (the links open
in DRF's browsable API), with where the OpenAPI schema and its docs are."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, reverse
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView


def _walk(patterns, prefix: str = ""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and route:
            yield route, pattern.name or ""


def api_endpoints(request) -> list[dict]:
    """Every path of /api/v1/ in declaration order: a link where it takes no parameter, the
    path template (``{activity_id}``) where it does."""
    from ocx.urls import api_v1  # the wiring imports this module: read it at request time

    base = reverse("v1:api-root")
    found = []
    for route, name in _walk(api_v1):
        path = base + route.replace("<str:", "{").replace("<uuid:", "{").replace("<slug:", "{").replace(">", "}")
        entry = {"path": path, "name": name}
        if "{" not in path:
            entry["url"] = request.build_absolute_uri(path)
        found.append(entry)
    return found


class ApiRootView(APIView):
    """The API's endpoints (open to anyone: it is the same list the OpenAPI schema publishes)."""

    permission_classes = [AllowAny]

    @extend_schema(
        responses=inline_serializer(
            "ApiRoot",
            {
                "schema": serializers.URLField(),
                "docs": serializers.URLField(),
                "endpoints": inline_serializer(
                    "ApiEndpoint",
                    {
                        "path": serializers.CharField(),
                        "name": serializers.CharField(),
                        "url": serializers.URLField(required=False),
                    },
                    many=True,
                ),
            },
        ),
        auth=[],
    )
    def get(self, request):
        return Response(
            {
                "schema": request.build_absolute_uri(reverse("schema")),
                "docs": request.build_absolute_uri(reverse("swagger-ui")),
                "endpoints": api_endpoints(request),
            }
        )
