"""Workflow settings: read from Django settings, else the environment, else the default.

(``ocx/settings.py`` is shared; these names are the seed's configuration variables.)
"""

from __future__ import annotations

import os

from django.conf import settings


def _value(name: str, default, cast):
    if hasattr(settings, name):
        return cast(getattr(settings, name))
    raw = os.environ.get(name)
    return cast(raw) if raw not in (None, "") else default


def _bool(value) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def workflow_enabled() -> bool:
    """WORKFLOW_ENABLED=false turns automation triggers off (transitions and SLAs still work)."""
    return _value("WORKFLOW_ENABLED", True, _bool)


def sla_monitor_interval() -> int:
    return _value("SLA_MONITOR_INTERVAL", 60, int)


def sla_at_risk_fraction() -> float:
    return _value("SLA_AT_RISK_FRACTION", 0.8, float)


def sla_scan_batch() -> int:
    return _value("SLA_SCAN_BATCH", 1000, int)


def webhook_max_attempts() -> int:
    return _value("WORKFLOW_WEBHOOK_MAX_ATTEMPTS", 5, int)


def webhook_backoff_seconds() -> int:
    return _value("WORKFLOW_WEBHOOK_BACKOFF_SECONDS", 10, int)


def webhook_timeout_seconds() -> float:
    return _value("WORKFLOW_WEBHOOK_TIMEOUT", 10.0, float)


def webhook_default_secret() -> str:
    return _value("WORKFLOW_WEBHOOK_SECRET", "", str)
