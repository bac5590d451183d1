"""Demo content of the event spine (idempotent): the seed's ten sample events per tenant and
one ingestion source of each kind for acme-corp (keys and secrets are visible in the admin)."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from activity_feed.models import IngestionSource
from activity_feed.publish import publish

SAMPLES = [
    ("campaign.campaign.launched", "Q4 outreach campaign launched", "campaign", "camp-001", "normal", ["campaign"]),
    ("campaign.campaign.milestone", "Campaign reached 1,000 opens", "campaign", "camp-001", "low", ["campaign"]),
    ("crm.lead.high_intent", "High-intent lead detected", "lead", "lead-456", "high", ["lead", "high-intent"]),
    ("crm.lead.replied", "Lead replied to sequence step 2", "lead", "lead-457", "normal", ["lead"]),
    ("crm.lead.meeting_booked", "Meeting booked with Globex buyer", "lead", "lead-458", "high", ["lead", "meeting"]),
    ("ai.action.suggested", "AI suggested a follow-up email", "lead", "lead-456", "normal", ["ai"]),
    ("ai.action.executed", "AI sent the follow-up email", "lead", "lead-456", "low", ["ai"]),
    ("system.sync.completed", "CRM sync completed", "integration", "salesforce", "low", ["system"]),
    ("system.sync.failed", "HubSpot sync failed: rate limited", "integration", "hubspot", "critical", ["system", "alert"]),
    ("registry.activity.approved", "", "activity", "demo-activity", "normal", ["registry"]),
]  # fmt: skip


def seed(*, tenants, users) -> None:
    now = timezone.now().replace(microsecond=0)
    for slug, tenant in tenants.items():
        actor = users.get(f"{slug.split('-')[0]}-admin")
        with transaction.atomic():
            for index, (event_type, title, entity_type, entity_id, priority, tags) in enumerate(SAMPLES):
                publish(
                    tenant=tenant,
                    type=event_type,
                    title=title or None,
                    entity_type=entity_type,
                    entity_id=entity_id,
                    priority=priority,
                    tags=tags,
                    actor=actor,
                    source="internal",
                    source_system="demo",
                    payload={"demo": True},
                    timestamp=now - timedelta(hours=len(SAMPLES) - index),
                    idempotency_key=f"demo-{event_type}",  # the same key on every run: idempotent
                )
    acme = tenants.get("acme-corp")
    if acme is not None:
        for kind in ("salesforce", "hubspot", "webhook"):
            IngestionSource.objects.for_tenant(acme).get_or_create(tenant=acme, kind=kind, name=f"demo-{kind}")
