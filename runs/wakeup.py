"""Wake-ups for long-polling claims: an agent waiting in ``POST /runs/claim`` sleeps until a run
it could take is committed, instead of polling the database.

``notify(tenant_id, work_unit_ids)`` is called on commit when runs become claimable (created, or
re-offered after a lease expired). ``listen(tenant_id, topics)`` opens a listener *before* the
waiter's first claim, so a run committed between that claim and the wait is never missed.

- distributed mode (``REDIS_URL``): Redis pub/sub on ``ocx:runs:wake:<tenant id>``; the message
  names the work units, and a listener ignores those it does not claim. Every web process of
  every host hears every commit.
- embedded mode: one process serves the API and runs Celery, so a ``threading.Condition`` per
  process does the job.

Delivery is best effort either way (a dropped message or a Redis outage only delays a claim):
the claiming loop looks at the database again every ``OCX_RUNS_CLAIM_RECHECK_SECONDS`` whatever
happens, which also catches runs whose retry backoff has passed.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from contextlib import contextmanager
from functools import cache

from django.conf import settings

logger = logging.getLogger(__name__)
CHANNEL = "ocx:runs:wake:{tenant_id}"


def _channel(tenant_id: int) -> str:
    return CHANNEL.format(tenant_id=tenant_id)


def _use_redis() -> bool:
    return bool(settings.REDIS_URL)


@cache
def _redis():
    import redis

    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, health_check_interval=30)


# --- embedded: one condition per process ------------------------------------------------------
class _LocalHub:
    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._generation: dict[int, int] = {}

    def generation(self, tenant_id: int) -> int:
        with self._condition:
            return self._generation.get(tenant_id, 0)

    def notify(self, tenant_id: int) -> None:
        with self._condition:
            self._generation[tenant_id] = self._generation.get(tenant_id, 0) + 1
            self._condition.notify_all()

    def wait(self, tenant_id: int, since: int, timeout: float) -> int | None:
        """Block until the tenant's generation moves past ``since`` (→ the new one) or timeout (None)."""
        with self._condition:
            moved = self._condition.wait_for(lambda: self._generation.get(tenant_id, 0) != since, timeout=timeout)
            return self._generation.get(tenant_id, 0) if moved else None


_hub = _LocalHub()


class LocalListener:
    def __init__(self, tenant_id: int) -> None:
        self.tenant_id = tenant_id
        self._seen = _hub.generation(tenant_id)

    def wait(self, timeout: float) -> bool:
        generation = _hub.wait(self.tenant_id, self._seen, timeout)
        if generation is None:
            return False
        self._seen = generation
        return True

    def close(self) -> None:
        pass


# --- distributed: Redis pub/sub ---------------------------------------------------------------
class RedisListener:
    def __init__(self, tenant_id: int, topics: list[str]) -> None:
        self.topics = set(topics)
        self._pubsub = None
        try:
            self._pubsub = _redis().pubsub()
            self._pubsub.subscribe(_channel(tenant_id))
            # Wait for the subscription to be in place, so nothing published after it is lost.
            self._pubsub.get_message(timeout=2)
        except Exception:  # noqa: BLE001 - no Redis: the claim falls back to its re-check interval
            logger.warning("runs wake-up: Redis unavailable, long polls re-check on their interval", exc_info=True)
            self.close()

    def _wanted(self, message) -> bool:
        if not self.topics:
            return True
        try:
            names = json.loads(message["data"])
        except (TypeError, ValueError):
            return True
        return not names or bool(self.topics.intersection(names))

    def wait(self, timeout: float) -> bool:
        if self._pubsub is None:
            time.sleep(timeout)
            return False
        end = time.monotonic() + timeout
        while (remaining := end - time.monotonic()) > 0:
            try:
                message = self._pubsub.get_message(ignore_subscribe_messages=True, timeout=remaining)
            except Exception:  # noqa: BLE001 - a broken subscription: re-check on the interval
                logger.warning("runs wake-up: lost the Redis subscription", exc_info=True)
                self.close()
                time.sleep(max(0.0, end - time.monotonic()))
                return False
            if message is not None and message.get("type") == "message" and self._wanted(message):
                return True
        return False

    def close(self) -> None:
        if self._pubsub is not None:
            try:
                self._pubsub.close()
            except Exception:  # noqa: BLE001 - closing an already broken connection: nothing to undo
                logger.debug("runs wake-up: closing the Redis subscription failed", exc_info=True)
            self._pubsub = None


# --- the two entry points ---------------------------------------------------------------------
@contextmanager
def listen(tenant_id: int, topics: list[str]):
    """A listener for claimable runs of ``tenant_id`` (of ``topics``; none: any work unit)."""
    listener = RedisListener(tenant_id, topics) if _use_redis() else LocalListener(tenant_id)
    try:
        yield listener
    finally:
        listener.close()


def notify(tenant_id: int, work_unit_ids: list[str]) -> None:
    """Wake the tenant's waiting claims (call on commit). Never raises."""
    if not _use_redis():
        _hub.notify(tenant_id)
        return
    try:
        _redis().publish(_channel(tenant_id), json.dumps(sorted(set(work_unit_ids))))
    except Exception:  # noqa: BLE001 - best effort: waiting claims re-check on their interval
        logger.warning("runs wake-up: could not publish to Redis", exc_info=True)
