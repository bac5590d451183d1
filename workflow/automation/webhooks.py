"""Outbound webhooks: signed with HMAC-SHA256, sent outside any transaction, retried with backoff.

Signature: ``X-OCX-Signature: sha256=<hex>`` over ``"<X-OCX-Timestamp>." + body`` with the
delivery's secret; receivers recompute it and reject old timestamps (replay).

A delivery is claimed by a conditional UPDATE (pending and due, or a sending lease that ran
out), so two workers never send the same attempt; the HTTP call happens after that short
claim has committed and before the short settle, never while a transaction is open.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

import httpx
from django.db.models import F, Q
from django.utils import timezone

from workflow import conf
from workflow.metrics import WEBHOOKS
from workflow.models import DeliveryStatus, WebhookDelivery

logger = logging.getLogger(__name__)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def backoff_seconds(attempts: int) -> int:
    """Seconds before the next attempt after ``attempts`` failed ones: base × 2^(n-1)."""
    return conf.webhook_backoff_seconds() * (2 ** max(attempts - 1, 0))


@dataclass
class DeliveryOutcome:
    status: str  # delivered / retry / failed / skipped
    retry_in: int | None = None


def _claim(delivery_id: int) -> bool:
    now = timezone.now()
    return bool(
        WebhookDelivery.objects.all_tenants()
        .filter(pk=delivery_id)
        .filter(
            Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            | Q(status=DeliveryStatus.SENDING, locked_until__lt=now)
        )
        .update(
            status=DeliveryStatus.SENDING,
            attempts=F("attempts") + 1,
            locked_until=now + timedelta(seconds=conf.webhook_timeout_seconds() + 60),
        )
    )


def webhook_deliver(*, delivery_id: int, client: httpx.Client | None = None) -> DeliveryOutcome:
    """Send one attempt of a delivery if it is due; settle it (delivered / retry later / failed)."""
    if not _claim(delivery_id):
        return DeliveryOutcome("skipped")
    delivery = WebhookDelivery.objects.all_tenants().get(pk=delivery_id)
    body = json.dumps(delivery.payload, sort_keys=True, separators=(",", ":"), default=str).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "OCX-Webhooks/1.0",
        "X-OCX-Delivery": str(delivery.pk),
        "X-OCX-Timestamp": timestamp,
        "X-OCX-Signature": sign(delivery.secret, timestamp, body),
    }
    status_code, error = None, ""
    try:
        if client is not None:
            response = client.post(delivery.url, content=body, headers=headers, timeout=conf.webhook_timeout_seconds())
        else:
            response = httpx.post(delivery.url, content=body, headers=headers, timeout=conf.webhook_timeout_seconds())
        status_code = response.status_code
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}: {response.text[:500]}"
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}"
    now = timezone.now()
    scoped = WebhookDelivery.objects.all_tenants().filter(pk=delivery.pk, status=DeliveryStatus.SENDING)
    if not error:
        scoped.update(
            status=DeliveryStatus.DELIVERED,
            delivered_at=now,
            last_status_code=status_code,
            last_error="",
            locked_until=None,
        )
        WEBHOOKS.labels(status="delivered").inc()
        return DeliveryOutcome("delivered")
    if delivery.attempts >= delivery.max_attempts:
        scoped.update(status=DeliveryStatus.FAILED, last_status_code=status_code, last_error=error, locked_until=None)
        WEBHOOKS.labels(status="failed").inc()
        logger.warning(
            "webhook %s to %s gave up after %s attempts: %s", delivery.pk, delivery.url, delivery.attempts, error
        )
        return DeliveryOutcome("failed")
    delay = backoff_seconds(delivery.attempts)
    scoped.update(
        status=DeliveryStatus.PENDING,
        next_attempt_at=now + timedelta(seconds=delay),
        last_status_code=status_code,
        last_error=error,
        locked_until=None,
    )
    WEBHOOKS.labels(status="retry").inc()
    return DeliveryOutcome("retry", retry_in=delay)


def due_deliveries(*, limit: int = 100) -> list[int]:
    """Deliveries whose next attempt is due (the beat sweep's safety net for lost retries)."""
    now = timezone.now()
    return list(
        WebhookDelivery.objects.all_tenants()
        .filter(
            Q(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            | Q(status=DeliveryStatus.SENDING, locked_until__lt=now)
        )
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:limit]
    )
