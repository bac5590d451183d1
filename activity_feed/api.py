"""``/api/v1/events``: the event store over REST (the spine's full API grows in its issue)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins
from rest_framework.response import Response

from activity_feed import selectors
from activity_feed.models import ActivityEvent
from activity_feed.serializers import ActivityEventSerializer
from ocx import errors
from ocx.api.views import TenantViewSet


class EventViewSet(mixins.ListModelMixin, TenantViewSet):
    model = ActivityEvent
    serializer_class = ActivityEventSerializer
    filter_backends: list = []

    def get_queryset(self):
        return selectors.event_list(tenant=self.request.tenant, filters=self.request.query_params)

    @extend_schema(
        parameters=[
            OpenApiParameter("type", str, description="Comma-separated event types"),
            OpenApiParameter("entity_type", str),
            OpenApiParameter("entity_id", str),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def retrieve(self, request, pk=None):
        event = selectors.event_get(tenant=request.tenant, event_id=pk)
        if event is None:
            raise errors.NotFound(f"Event {pk} not found.")
        return Response(self.get_serializer(event).data)
