"""How an event looks on the wire (REST, WebSocket, SSE): one shape everywhere."""

from __future__ import annotations

from rest_framework import serializers

from activity_feed.models import ActivityEvent


def event_to_dict(event: ActivityEvent) -> dict:
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
        "timestamp": serializers.DateTimeField().to_representation(event.timestamp),
        "created_at": serializers.DateTimeField().to_representation(event.created_at),
        "expires_at": serializers.DateTimeField().to_representation(event.expires_at) if event.expires_at else None,
        "idempotency_key": event.idempotency_key,
        "tags": event.tags,
        "correlation_id": event.correlation_id,
    }


class ActivityEventSerializer(serializers.ModelSerializer):
    tenant_id = serializers.SlugRelatedField(source="tenant", slug_field="slug", read_only=True)

    class Meta:
        model = ActivityEvent
        fields = [
            "id", "event_id", "tenant_id", "type", "source", "status", "priority", "source_system",
            "source_object_id", "source_object_type", "title", "description", "event_metadata",
            "entity_id", "entity_type", "user_id", "user_name", "timestamp", "created_at",
            "expires_at", "idempotency_key", "tags", "correlation_id",
        ]
        read_only_fields = fields
