"""Template definitions in the one JSON form, and helpers that drive instances through services."""

from __future__ import annotations

from workflow.engine import services
from workflow.engine.models import ActivityInstance


def activity(key, *, handler="TestEcho", depends_on=(), **extra) -> dict:
    return {
        "key": key,
        "name": key.replace("_", " ").title(),
        "handler_name": handler,
        "depends_on": list(depends_on),
        **extra,
    }


def phase(key, order, *activities, mode="sequential", fan_out_over="", max_concurrency=None) -> dict:
    return {
        "key": key,
        "name": key.title(),
        "order": order,
        "execution_mode": mode,
        "fan_out_over": fan_out_over,
        "max_concurrency": max_concurrency,
        "activities": list(activities),
    }


def definition(*phases, name="t", **extra) -> dict:
    return {"name": name, "description": "test", "phases": list(phases), **extra}


def published(tenant, actor, definition_: dict):
    template = services.template_create(tenant=tenant, actor=actor, definition=definition_)
    return services.template_publish(tenant=tenant, actor=actor, template_id=template.pk)


def acts(inst) -> dict[str, ActivityInstance]:
    return {a.instance_id: a for a in ActivityInstance.objects.for_tenant(inst.tenant_id).filter(workflow=inst)}


def fast(**policy) -> dict:
    return {"initial_interval": 1, "backoff_coefficient": 2, "maximum_interval": 10, "maximum_attempts": 3, **policy}
