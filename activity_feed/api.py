"""``/api/v1/events…``: seed 004's activity API (list, create, get, read, read-all, stats).

The live stream (``/api/v1/events/stream``) is an async view in ``activity_feed.sse``.
"""

from __future__ import annotations

from urllib.parse import urlencode

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from activity_feed import selectors, services
from activity_feed.filters import FALSE, TRUE, EventFilters
from activity_feed.models import EventPriority, EventSource, EventStatus
from activity_feed.ratelimit import check_rate
from activity_feed.serializers import (
    ActivityEventSerializer,
    EventCreateInput,
    EventPageSerializer,
    ReadAllInput,
    event_to_dict,
)
from ocx.core import errors
from ocx.core.access import Perm
from ocx.core.api.params import INT64_MAX, parse_int
from ocx.core.api.schema import int_parameter
from ocx.core.api.views import TenantAPIView
from ocx.core.tenancy import tenant_for_user

ISO_MOMENT = {"type": "string", "anyOf": [{"format": "date"}, {"format": "date-time"}]}
FILTER_PARAMETERS = [
    OpenApiParameter("types", str, description="Comma-separated event types (also `type`)"),
    OpenApiParameter(
        "sources", str, enum=EventSource.values, many=True, explode=False, description="Comma-separated (also `source`)"
    ),
    OpenApiParameter(
        "priority", str, enum=EventPriority.values, many=True, explode=False, description="Comma-separated"
    ),
    OpenApiParameter("status", str, enum=EventStatus.values, many=True, explode=False, description="Comma-separated"),
    OpenApiParameter("start_date", ISO_MOMENT, description="ISO date or datetime (inclusive)"),
    OpenApiParameter("end_date", ISO_MOMENT, description="ISO date or datetime (inclusive)"),
    OpenApiParameter("entity_type", str),
    OpenApiParameter("entity_id", str),
    OpenApiParameter("tags", str, description="Comma-separated tags"),
    OpenApiParameter("tags_match", str, enum=["any", "all"]),
    OpenApiParameter("correlation_id", str),
    OpenApiParameter("source_system", str),
    OpenApiParameter(
        "read",
        {"type": "string", "enum": sorted(TRUE | FALSE)},
        description="true: read by me; false: unread by me (case-insensitive)",
    ),
    OpenApiParameter("search", str, description="Text in the title"),
]
PAGE_PARAMETERS = [
    OpenApiParameter("cursor", str, description="Opaque cursor from `next_cursor`"),
    int_parameter(
        "page_size", 1, INT64_MAX, "Default 30; larger values are served as 100 (aliases `pageSize`, `limit`)"
    ),
    int_parameter("page", 1, selectors.MAX_PAGE, "1-based page number (offset; for deep reading follow `next_cursor`)"),
    OpenApiParameter(
        "sort_order", str, enum=["desc", "asc"], description="By timestamp, then id (aliases `sortOrder`, `order`)"
    ),
]


def _filters(params) -> EventFilters:
    """``EventFilters`` of the query, where a parameter given empty or outside its documented
    values is refused (400), not read as absent: the schema's enums and formats hold."""
    for name, allowed in (("read", TRUE | FALSE), ("tags_match", {"any", "all"})):
        if name in params and params[name].lower() not in allowed:
            message = f"{name}: unknown value {params[name]!r}; allowed: {', '.join(sorted(allowed))}."
            raise errors.ValidationError(message, details={name: [message]})
    for name in ("start_date", "end_date"):
        if name in params and not params[name].strip():
            message = f"{name} must be an ISO date or datetime."
            raise errors.ValidationError(message, details={name: [message]})
    return EventFilters.from_params(params)


def _render(event, state) -> dict:
    return event_to_dict(event, **selectors.read_fields(event, state))


class EventListCreateView(TenantAPIView):
    """List the tenant's events (filters, keyset pages) or record one (idempotent)."""

    required_perms = {"POST": Perm.CREATE_EVENT}
    error_statuses = {"POST": (409, 429)}  # activity_feed.ratelimit; a clash of event ids (retry)

    @extend_schema(
        operation_id="events_list", parameters=FILTER_PARAMETERS + PAGE_PARAMETERS, responses=EventPageSerializer
    )
    def get(self, request):
        params = request.query_params
        filters = _filters(params)
        # Present means given: an empty sort_order is refused, not read as the default.
        raw_order = next((params[k] for k in ("sort_order", "sortOrder", "order") if k in params), "desc")
        sort_order = raw_order.lower()
        page_number = selectors.parse_page_number(params.get("page"))
        if sort_order not in {"asc", "desc"}:
            message = f"sort_order: unknown value {raw_order!r}; allowed: desc, asc."
            raise errors.ValidationError(message, details={"sort_order": [message]})
        page = selectors.event_page(
            tenant=request.tenant,
            user=request.user,
            filters=filters,
            cursor=params.get("cursor") or None,
            page_size=selectors.parse_page_size(
                params.get("page_size") or params.get("pageSize") or params.get("limit")
            ),
            descending=sort_order == "desc",
            page=page_number,
        )
        next_url = None
        if page.next_cursor:
            query = params.copy()
            query["cursor"] = page.next_cursor
            query.pop("page", None)
            next_url = request.build_absolute_uri(f"{request.path}?{urlencode(query, doseq=True)}")
        return Response(
            {
                "results": [_render(e, page.state) for e in page.events],
                "next_cursor": page.next_cursor,
                "next": next_url,
                "page_size": page.page_size,
                "has_more": page.next_cursor is not None,
                **({"page": page_number} if page_number else {}),
            }
        )

    @extend_schema(
        request=EventCreateInput,
        responses={201: ActivityEventSerializer, 200: OpenApiResponse(ActivityEventSerializer, "Already recorded")},
    )
    def post(self, request):
        check_rate(tenant=request.tenant, scope="create")
        data = EventCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        claimed = values.pop("tenant_id", None)
        if claimed and claimed != request.tenant.slug:
            # A tenant the caller is not in is refused (403); one of theirs must be picked with X-Tenant.
            tenant_for_user(request.user, claimed)
            raise errors.PermissionDenied(
                "tenant_id does not match the request's tenant (X-Tenant).", details={"tenant_id": claimed}
            )
        values["payload"] = values.pop("event_metadata", {})
        if not values.get("idempotency_key"):
            values.pop("idempotency_key", None)
        event, created = services.event_create(tenant=request.tenant, actor=request.user, data=values)
        event.tenant = request.tenant
        return Response(
            _render(event, selectors.ReadState()), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class EventDetailView(TenantAPIView):
    @extend_schema(operation_id="events_retrieve", responses=ActivityEventSerializer)
    def get(self, request, pk):
        event, state = selectors.event_for_reader(tenant=request.tenant, user=request.user, event_id=pk)
        if event is None:
            raise errors.NotFound(f"Event {pk} not found.")
        return Response(_render(event, state))


class EventReadView(TenantAPIView):
    """Mark one event read, for the caller only."""

    @extend_schema(request=None, responses=ActivityEventSerializer)
    def patch(self, request, pk):
        event, _ = services.event_mark_read(tenant=request.tenant, user=request.user, event_id=pk)
        event, state = selectors.event_for_reader(tenant=request.tenant, user=request.user, event_id=event.pk)
        return Response(_render(event, state))

    @extend_schema(request=None, responses=ActivityEventSerializer)
    def post(self, request, pk):
        return self.patch(request, pk)


ReadAllOutput = inline_serializer(
    "ReadAllOutput",
    {
        "success": serializers.BooleanField(),
        "up_to_id": serializers.IntegerField(),
        "read_at": serializers.DateTimeField(),
        "unread_count": serializers.IntegerField(),
    },
)


class EventReadAllView(TenantAPIView):
    """Mark every event up to ``up_to_id`` (or a list ``cursor``; default: the newest) read."""

    @extend_schema(request=ReadAllInput, responses=ReadAllOutput)
    def patch(self, request):
        data = ReadAllInput(data=request.data)
        data.is_valid(raise_exception=True)
        up_to = data.validated_data.get("up_to_id")
        if up_to is None and data.validated_data.get("cursor"):
            up_to = selectors.decode_cursor(data.validated_data["cursor"])[1]
        state = services.events_mark_all_read(tenant=request.tenant, user=request.user, up_to_id=up_to)
        return Response(
            {
                "success": True,
                "up_to_id": state.up_to_id,
                "read_at": serializers.DateTimeField().to_representation(state.read_at),
                "unread_count": selectors.unread_count(tenant=request.tenant, user=request.user),
            }
        )

    @extend_schema(request=ReadAllInput, responses=ReadAllOutput)
    def post(self, request):
        return self.patch(request)


class EventStatsView(TenantAPIView):
    """Counts by type, source, priority, unread (for the caller) and per day."""

    @extend_schema(
        parameters=[
            *FILTER_PARAMETERS,
            int_parameter("days", 1, INT64_MAX, "Per-day window without start_date (default 30, at most 366)"),
        ],
        responses=inline_serializer(
            "EventStats",
            {
                "total": serializers.IntegerField(),
                "unread": serializers.IntegerField(),
                "by_type": serializers.DictField(child=serializers.IntegerField()),
                "by_source": serializers.DictField(child=serializers.IntegerField()),
                "by_priority": serializers.DictField(child=serializers.IntegerField()),
                "by_day": serializers.ListField(child=serializers.DictField()),
            },
        ),
    )
    def get(self, request):
        filters = _filters(request.query_params)
        days = min(366, parse_int(request.query_params.get("days"), name="days", minimum=1, default=30))
        return Response(selectors.event_stats(tenant=request.tenant, user=request.user, filters=filters, days=days))
