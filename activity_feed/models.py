"""The event spine's store: immutable events and the outbox that drives work from them.

Field names follow seed 004's ``activity_events`` table. Events are append-only: a database
trigger (migration 0002) refuses UPDATE and refuses DELETE except of expired events.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from ocx.models import TenantScopedModel


class EventSource(models.TextChoices):
    INTERNAL = "internal", "Internal"
    SYSTEM = "system", "System"
    SALESFORCE = "salesforce", "Salesforce"
    HUBSPOT = "hubspot", "HubSpot"
    WEBHOOK = "webhook", "Webhook"
    API = "api", "API"


class EventPriority(models.TextChoices):
    LOW = "low", "Low"
    NORMAL = "normal", "Normal"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class EventStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    ARCHIVED = "archived", "Archived"


class ActivityEvent(TenantScopedModel):
    # A monotonically increasing key: keyset pagination and stream resume order by it.
    id = models.BigAutoField(primary_key=True)
    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=120, db_index=True)
    source = models.CharField(max_length=32, choices=EventSource.choices, default=EventSource.INTERNAL)
    status = models.CharField(max_length=16, choices=EventStatus.choices, default=EventStatus.ACTIVE)
    priority = models.CharField(max_length=16, choices=EventPriority.choices, default=EventPriority.NORMAL)

    source_system = models.CharField(max_length=64, default="ocx")
    source_object_id = models.CharField(max_length=200, blank=True, default="")
    source_object_type = models.CharField(max_length=100, blank=True, default="")

    title = models.CharField(max_length=500)
    description = models.TextField(blank=True, default="")
    event_metadata = models.JSONField(default=dict, blank=True)

    entity_id = models.CharField(max_length=200, blank=True, default="")
    entity_type = models.CharField(max_length=100, blank=True, default="")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )
    user_name = models.CharField(max_length=150, blank=True, default="")

    timestamp = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    idempotency_key = models.CharField(max_length=200)
    tags = models.JSONField(default=list, blank=True)
    correlation_id = models.CharField(max_length=100, blank=True, default="")

    class Meta:
        db_table = "activity_events"
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "idempotency_key"], name="uniq_event_tenant_idempotency_key"),
        ]
        indexes = [
            models.Index(fields=["tenant", "-id"], name="idx_event_tenant_id"),
            models.Index(fields=["tenant", "type", "-id"], name="idx_event_tenant_type"),
            models.Index(fields=["tenant", "timestamp"], name="idx_event_tenant_timestamp"),
            models.Index(fields=["tenant", "entity_type", "entity_id"], name="idx_event_tenant_entity"),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    PROCESSING = "processing", "Processing"
    DONE = "done", "Done"
    DEAD = "dead", "Dead"


class OutboxEvent(TenantScopedModel):
    """Work queue row written with its event; the dispatcher claims and processes it."""

    id = models.BigAutoField(primary_key=True)
    event = models.OneToOneField(ActivityEvent, on_delete=models.CASCADE, related_name="outbox")
    event_type = models.CharField(max_length=120)
    status = models.CharField(max_length=16, choices=OutboxStatus.choices, default=OutboxStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    available_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=64, blank=True, default="")
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "outbox_events"
        ordering = ["id"]
        indexes = [
            models.Index(fields=["status", "available_at"], name="idx_outbox_status_available"),
        ]

    def __str__(self) -> str:
        return f"outbox #{self.pk} {self.event_type} ({self.status})"
