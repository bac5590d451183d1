"""Foundation: an authenticated, tenant-scoped list endpoint vs the cheapest authenticated DRF
endpoint, in the same server run, reported as a ratio (what tenancy + pagination cost)."""

from __future__ import annotations

from bench.harness import print_stats

NAME = "foundation"
EVENTS = 200_000


def _generate(target: int) -> int:
    from django.db import transaction
    from django.utils import timezone

    from activity_feed.models import ActivityEvent
    from ocx.core.models import Tenant

    acme = Tenant.objects.get(slug="acme-corp")
    globex = Tenant.objects.get(slug="globex")
    have = ActivityEvent.objects.for_tenant(acme).count()
    now = timezone.now()
    batch = 5_000
    while have < target:
        rows = []
        for i in range(have, min(have + batch, target)):
            for tenant in (acme, globex):
                rows.append(
                    ActivityEvent(
                        tenant=tenant,
                        type="bench.item.created",
                        title=f"Bench item {i}",
                        source_system="bench",
                        source_object_id=str(i),
                        entity_type="item",
                        entity_id=str(i),
                        timestamp=now,
                        idempotency_key=f"bench-{i}",
                        event_metadata={"i": i},
                    )
                )
        with transaction.atomic():
            ActivityEvent.objects.bulk_create(rows, ignore_conflicts=True)
        have = ActivityEvent.objects.for_tenant(acme).count()
    return have


def run(ctx) -> dict:
    target = 20_000 if ctx.quick else EVENTS
    events = _generate(target)
    print(f"  {events} events per tenant (2 tenants)")
    baseline = ctx.load("/api/v1/ping")
    listing = ctx.load("/api/v1/events?page_size=30")
    print_stats("GET /api/v1/ping (baseline)", baseline)
    print_stats("GET /api/v1/events (30/page)", listing)
    ratio = round(listing["p95_ms"] / baseline["p95_ms"], 2) if baseline["p95_ms"] else None
    print(f"  p95 ratio list/baseline: {ratio}")
    return {"events_per_tenant": events, "baseline": baseline, "list": listing, "p95_ratio": ratio}
