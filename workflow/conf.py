"""Workflow settings, read from Django settings at call time (so overrides in tests apply).

The values and their defaults are declared once, in ``ocx/settings.py`` (environment
``OCX_WORKFLOW_ENABLED``, ``OCX_SLA_MONITOR_INTERVAL`` …, the seed's names accepted as aliases).
"""

from __future__ import annotations

from django.conf import settings


def workflow_enabled() -> bool:
    """False turns automation triggers off (transitions and SLAs still work)."""
    return settings.WORKFLOW_ENABLED


def sla_monitor_interval() -> int:
    return settings.SLA_MONITOR_INTERVAL


def sla_at_risk_fraction() -> float:
    return settings.SLA_AT_RISK_FRACTION


def sla_scan_batch() -> int:
    return settings.SLA_SCAN_BATCH


def webhook_max_attempts() -> int:
    return settings.WORKFLOW_WEBHOOK_MAX_ATTEMPTS


def webhook_backoff_seconds() -> int:
    return settings.WORKFLOW_WEBHOOK_BACKOFF_SECONDS


def webhook_timeout_seconds() -> float:
    return settings.WORKFLOW_WEBHOOK_TIMEOUT


def webhook_default_secret() -> str:
    return settings.WORKFLOW_WEBHOOK_SECRET
