"""The event spine's store: immutable events, per-user read state, the outbox, ingestion sources.

Field names follow seed 004's ``activity_events`` table. Events are append-only: a database
trigger (migrations 0002/0003) refuses an UPDATE of any content column and refuses a DELETE
unless the event has expired *and* the retention purge is running (``services.events_purge_expired``).

The seed's ``read`` / ``read_at`` columns are per user here (a shared event read by one person
stays unread for another), so they live outside the immutable row: ``EventRead`` holds single
reads and ``ReadMarker`` a per-user high-water mark ("everything up to event N is read"), which
makes mark-all-read one row write whatever the backlog.
"""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from ocx.core.models import TenantScopedModel


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


# Columns the append-only trigger protects: every column except ``user_id``, which Django's
# ``on_delete=SET_NULL`` clears when a user account is deleted (the ``user_name`` stays).
CONTENT_COLUMNS = (
    "id", "tenant_id", "event_id", "type", "source", "status", "priority", "source_system",
    "source_object_id", "source_object_type", "title", "description", "event_metadata",
    "entity_id", "entity_type", "user_name", "timestamp", "created_at", "expires_at",
    "idempotency_key", "tags", "correlation_id",
)  # fmt: skip


class ActivityEvent(TenantScopedModel):
    # A monotonically increasing key: stream resume (Last-Event-ID) and read-all marks use it.
    id = models.BigAutoField(primary_key=True)
    # Every index costs each insert: the composite indexes below all start with the tenant, so
    # the FK's own index (and one on ``type`` alone) would only slow ingestion down.
    tenant = models.ForeignKey("ocx.Tenant", on_delete=models.PROTECT, related_name="+", db_index=False)
    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    type = models.CharField(max_length=120)
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
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_constraint=False,
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
        ordering = ["-timestamp", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "idempotency_key"], name="uniq_event_tenant_idempotency_key"),
        ]
        # Tenant first everywhere; (timestamp, id) last so each filter's keyset page is one
        # index range scan, however deep the cursor.
        indexes = [
            models.Index(fields=["tenant", "-id"], name="idx_event_tenant_id"),
            models.Index(fields=["tenant", "timestamp", "id"], name="idx_event_tenant_ts_id"),
            models.Index(fields=["tenant", "type", "timestamp", "id"], name="idx_event_tenant_type_ts"),
            models.Index(fields=["tenant", "source", "timestamp", "id"], name="idx_event_tenant_source_ts"),
            models.Index(
                fields=["tenant", "entity_type", "entity_id", "timestamp", "id"], name="idx_event_tenant_entity_ts"
            ),
            models.Index(fields=["tenant", "correlation_id"], name="idx_event_tenant_corr"),
            models.Index(fields=["expires_at"], name="idx_event_expires", condition=Q(expires_at__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"


class EventRead(TenantScopedModel):
    """One user has read one event (events past the user's ``ReadMarker`` need no row)."""

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    event = models.ForeignKey(ActivityEvent, on_delete=models.CASCADE, related_name="reads")
    read_at = models.DateTimeField()

    class Meta:
        db_table = "activity_event_reads"
        constraints = [models.UniqueConstraint(fields=["user", "event"], name="uniq_event_read_user_event")]
        indexes = [models.Index(fields=["tenant", "user", "event"], name="idx_event_read_tenant_user")]

    def __str__(self) -> str:
        return f"{self.user_id} read {self.event_id}"


class ReadMarker(TenantScopedModel):
    """A user's "mark all read": every event of the tenant with ``id <= up_to_id`` is read."""

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    up_to_id = models.BigIntegerField(default=0)
    read_at = models.DateTimeField()

    class Meta:
        db_table = "activity_read_markers"
        constraints = [models.UniqueConstraint(fields=["tenant", "user"], name="uniq_read_marker_tenant_user")]

    def __str__(self) -> str:
        return f"{self.user_id} read up to {self.up_to_id}"


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
        # Partial indexes: a claim reads only the small due / leased parts of the queue, never
        # the done rows (which the hourly purge deletes after OUTBOX_RETENTION_HOURS).
        indexes = [
            models.Index(
                fields=["available_at", "id"], name="idx_outbox_pending", condition=models.Q(status="pending")
            ),
            models.Index(
                fields=["locked_until"], name="idx_outbox_processing", condition=models.Q(status="processing")
            ),
            models.Index(fields=["id"], name="idx_outbox_dead", condition=models.Q(status="dead")),
        ]

    def __str__(self) -> str:
        return f"outbox #{self.pk} {self.event_type} ({self.status})"


class IngestionKind(models.TextChoices):
    SALESFORCE = "salesforce", "Salesforce (CDC / Platform Events)"
    HUBSPOT = "hubspot", "HubSpot webhooks (v3 signature)"
    WEBHOOK = "webhook", "Standard Webhooks"


def new_source_key() -> str:
    return secrets.token_urlsafe(18)


def new_webhook_secret() -> str:
    import base64

    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class IngestionSource(TenantScopedModel):
    """Where external events come from, and how their deliveries are authenticated.

    ``key`` is the public identifier in the delivery URL (``?source=<key>`` or
    ``/ingest/webhook/<key>``); it decides the tenant. ``secret`` verifies the signature
    (HubSpot: the app's client secret; Standard Webhooks and Salesforce relays: ``whsec_…``).
    ``previous_secret`` keeps the old secret valid during a rotation.
    """

    id = models.BigAutoField(primary_key=True)
    kind = models.CharField(max_length=16, choices=IngestionKind.choices)
    name = models.SlugField(max_length=64, help_text="Namespace of the event types, e.g. 'stripe'.")
    key = models.CharField(max_length=64, unique=True, default=new_source_key)
    secret = models.CharField(max_length=200, default=new_webhook_secret)
    previous_secret = models.CharField(max_length=200, blank=True, default="")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "activity_ingestion_sources"
        ordering = ["tenant", "kind", "name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "kind", "name"], name="uniq_ingestion_source_name")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"

    def secrets(self) -> list[str]:
        return [s for s in (self.secret, self.previous_secret) if s]
