"""Per-tenant rate limits on creating and ingesting events (answered 429 with Retry-After).

A fixed window counter in Django's cache (Redis in distributed mode, so every web process
shares it). Limits come from ``settings.OCX_FEED_RATE_LIMITS`` — ``{"create": (requests,
seconds), "ingest": (requests, seconds)}``, defaults in settings; ``None`` or absent: no limit.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.core.cache import cache

from ocx.core import errors


def limit_for(scope: str) -> tuple[int, int] | None:
    return settings.OCX_FEED_RATE_LIMITS.get(scope)


def check_rate(*, tenant, scope: str, cost: int = 1) -> None:
    """Count one request of ``scope`` for ``tenant``; raise RateLimited over the limit."""
    limit = limit_for(scope)
    if not limit:
        return
    allowed, window = limit
    now = time.time()
    window_start = int(now // window) * window
    key = f"ocx:feed:rl:{scope}:{getattr(tenant, 'pk', tenant)}:{window_start}"
    cache.add(key, 0, timeout=window + 1)
    try:
        count = cache.incr(key, cost)
    except ValueError:  # the key expired between add and incr
        cache.set(key, cost, timeout=window + 1)
        count = cost
    if count > allowed:
        retry_after = max(1, int(window_start + window - now + 0.999))
        raise errors.RateLimited(
            f"Too many {scope} requests for this tenant: at most {allowed} per {window} s.", retry_after=retry_after
        )
