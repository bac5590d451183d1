"""How an event looks on the wire (REST, WebSocket, SSE): one shape everywhere.

The seed's ``read`` / ``read_at`` are per user: lists and the detail view fill them from the
caller's read state; live pushes carry ``read: false`` (a new event is unread for everyone).
"""

from __future__ import annotations

from rest_framework import serializers

from activity_feed.models import ActivityEvent, EventPriority, EventSource
from ocx.core.api.params import INT64_MAX
from ocx.core.api.serializers import InputSerializer

_dt = serializers.DateTimeField()


def event_to_dict(event: ActivityEvent, *, read: bool = False, read_at=None) -> dict:
    return {
        "id": event.pk,
        "event_id": str(event.event_id),
        "tenant_id": event.tenant.slug,
        "type": event.type,
        "source": event.source,
        "status": event.status,
        "priority": event.priority,
        "source_system": event.source_system,
        "source_object_id": event.source_object_id,
        "source_object_type": event.source_object_type,
        "title": event.title,
        "description": event.description,
        "event_metadata": event.event_metadata,
        "entity_id": event.entity_id,
        "entity_type": event.entity_type,
        "user_id": event.user_id,
        "user_name": event.user_name,
        "timestamp": _dt.to_representation(event.timestamp),
        "created_at": _dt.to_representation(event.created_at),
        "expires_at": _dt.to_representation(event.expires_at) if event.expires_at else None,
        "idempotency_key": event.idempotency_key,
        "read": read,
        "read_at": _dt.to_representation(read_at) if read_at else None,
        "tags": event.tags,
        "correlation_id": event.correlation_id,
    }


class ActivityEventSerializer(serializers.ModelSerializer):
    """Output shape (documented in the OpenAPI schema; rendering uses ``event_to_dict``)."""

    tenant_id = serializers.SlugRelatedField(source="tenant", slug_field="slug", read_only=True)
    read = serializers.BooleanField(read_only=True)
    read_at = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = ActivityEvent
        fields = [
            "id", "event_id", "tenant_id", "type", "source", "status", "priority", "source_system",
            "source_object_id", "source_object_type", "title", "description", "event_metadata",
            "entity_id", "entity_type", "user_id", "user_name", "timestamp", "created_at",
            "expires_at", "idempotency_key", "read", "read_at", "tags", "correlation_id",
        ]  # fmt: skip
        read_only_fields = fields


class EventPageSerializer(serializers.Serializer):
    results = ActivityEventSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True)
    next = serializers.CharField(allow_null=True)
    page_size = serializers.IntegerField()
    has_more = serializers.BooleanField()
    page = serializers.IntegerField(required=False, min_value=1, help_text="Echoed when `?page=` was given")
    unread_count = serializers.IntegerField(required=False)


class EventCreateInput(InputSerializer):
    """Seed 004's ``ActivityEventCreate`` (snake_case). ``tenant_id``, when given, must be the
    caller's tenant (or one of them); the user is the authenticated caller, never the body."""

    tenant_id = serializers.CharField(required=False)
    type = serializers.RegexField(r"^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)+$", max_length=120)
    source = serializers.ChoiceField(EventSource.choices, default=EventSource.API)
    priority = serializers.ChoiceField(EventPriority.choices, default=EventPriority.NORMAL)
    source_system = serializers.CharField(max_length=64, default="api")
    source_object_id = serializers.CharField(max_length=200, required=False, allow_blank=True)
    source_object_type = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    title = serializers.CharField(max_length=2000, required=False, allow_blank=True)
    description = serializers.CharField(max_length=20000, required=False, allow_blank=True, default="")
    event_metadata = serializers.JSONField(required=False, default=dict)
    entity_id = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    entity_type = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    timestamp = serializers.DateTimeField(required=False)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
    idempotency_key = serializers.CharField(max_length=200, required=False, allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=200), required=False, default=list)
    correlation_id = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")

    def validate_event_metadata(self, value):
        if not isinstance(value, dict):
            raise serializers.ValidationError("Must be a JSON object.")
        return value


class ReadAllInput(InputSerializer):
    up_to_id = serializers.IntegerField(required=False, min_value=0, max_value=INT64_MAX)
    cursor = serializers.CharField(required=False)
