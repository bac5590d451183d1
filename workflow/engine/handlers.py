"""Activity handlers, registered by name: ``execute(ctx) -> dict`` (merged into the instance's
context, or the child's result in a fan-out), an optional ``compensate(ctx)``, and the declared
input/output shape (documentation the API and admin show).

Handlers run in a Celery worker *outside* any database transaction (network I/O never holds a
lock); a handler that writes calls a service, which opens its own. A handler signals failure by
raising: the error type is ``ActivityError.error_type`` or the exception's class name, matched
against the retry policy's ``non_retryable_error_types``.

Registered from ``WorkflowConfig.ready`` (``register_builtin_handlers``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone


class ActivityError(Exception):
    """A handler's failure with an explicit type (what retry policies match)."""

    def __init__(self, message: str, *, error_type: str = "ActivityError"):
        super().__init__(message)
        self.error_type = error_type


class ActivityTimeout(ActivityError):
    def __init__(self, message: str = "The activity attempt timed out."):
        super().__init__(message, error_type="ActivityTimeout")


class AwaitRun(Exception):  # noqa: N818 - a signal, not an error
    """Raised by a handler that started a run (runs app) and waits for it: the attempt stays
    ``running`` without holding a worker; the run's end event finishes it (``work_units``)."""

    def __init__(self, run_id):
        super().__init__(f"waiting for run {run_id}")
        self.run_id = run_id


@dataclass
class ActivityContext:
    """What a handler sees: a copy of the instance context, its fan-out item, its parameters."""

    tenant_id: int
    instance_id: int
    activity_id: int
    key: str
    name: str
    context: dict
    parameters: dict
    item: Any = None
    item_index: int | None = None
    attempt: int = 1
    result: Any = None  # for compensate: what execute returned


@dataclass
class Handler:
    name: str
    execute: Callable[[ActivityContext], dict | None]
    compensate: Callable[[ActivityContext], dict | None] | None = None
    description: str = ""
    input: dict = field(default_factory=dict)
    output: dict = field(default_factory=dict)
    manual: bool = False


_registry: dict[str, Handler] = {}


def register(handler: Handler) -> Handler:
    _registry[handler.name] = handler
    return handler


def get(name: str) -> Handler | None:
    return _registry.get(name)


def names() -> list[str]:
    return sorted(_registry)


def describe() -> list[dict]:
    return [
        {
            "name": h.name,
            "description": h.description,
            "manual": h.manual,
            "compensates": h.compensate is not None,
            "input": h.input,
            "output": h.output,
        }
        for h in sorted(_registry.values(), key=lambda h: h.name)
    ]


# --- generic handlers (the seed's) -------------------------------------------------------
def _manual(ctx: ActivityContext) -> dict:
    # Never executed by a worker: the engine creates a Task and waits for its completion.
    return {}


def _automated(ctx: ActivityContext) -> dict:
    action = str(ctx.parameters.get("action", "START")).upper()
    if action not in ("START", "COMPLETE"):
        raise ActivityError(f"Unknown action {action!r}.", error_type="InvalidParameters")
    phase = ctx.parameters.get("phase") or ctx.key
    stamp = timezone.now().isoformat()
    phases = dict(ctx.context.get("phase_log") or {})
    entry = dict(phases.get(phase) or {})
    entry["started_at" if action == "START" else "completed_at"] = stamp
    phases[phase] = entry
    return {"phase_log": phases} if ctx.item is None else {"action": action, "at": stamp}


def _emit_event(ctx: ActivityContext) -> dict:
    from django.db import transaction

    from activity_feed.services import publish

    event_type = ctx.parameters.get("event_type", "workflow.instance.note")
    if not str(event_type).startswith("workflow."):
        raise ActivityError("event_type must start with 'workflow.'.", error_type="InvalidParameters")
    with transaction.atomic():
        event = publish(
            tenant=ctx.tenant_id,
            type=event_type,
            title=ctx.parameters.get("title") or ctx.name,
            entity_type="workflow_instance",
            entity_id=ctx.instance_id,
            payload={"instance_id": ctx.instance_id, "activity_id": ctx.activity_id, "item": ctx.item},
            idempotency_key=f"workflow:engine:emit:{ctx.activity_id}",
        )
    return {f"{ctx.key}_event_id": event.pk}


def _create_task(ctx: ActivityContext) -> dict:
    from workflow.services import task_create

    task = task_create(
        tenant=ctx.tenant_id,
        actor=None,
        title=(ctx.parameters.get("title") or ctx.name)[:300],
        task_type=ctx.parameters.get("task_type", "general"),
        priority=ctx.parameters.get("priority", "medium"),
        metadata={"workflow_instance_id": ctx.instance_id, "engine_activity_id": ctx.activity_id, "follow_up": True},
    )
    return {f"{ctx.key}_task_id": task.pk}


def _http_request(ctx: ActivityContext) -> dict:
    """POST the context (or ``parameters.body``) to ``parameters.url``, signed like the outbound
    webhooks (``X-OCX-Signature`` over ``timestamp.body``); 5xx and network errors are retryable,
    4xx is ``HttpClientError`` (list it as non-retryable in the policy)."""
    import httpx

    from workflow.automation.webhooks import sign

    url = ctx.parameters.get("url")
    if not url:
        raise ActivityError("parameters.url is required.", error_type="InvalidParameters")
    body = json.dumps(
        ctx.parameters.get("body") or {"instance_id": ctx.instance_id, "activity": ctx.key, "item": ctx.item},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    ).encode()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "OCX-Workflow/1.0",
        "X-OCX-Timestamp": timestamp,
        "X-OCX-Signature": sign(str(ctx.parameters.get("secret", "")), timestamp, body),
        "Idempotency-Key": f"ocx-wf-{ctx.activity_id}",
    }
    timeout = float(ctx.parameters.get("timeout_seconds", 10))
    try:
        response = httpx.post(url, content=body, headers=headers, timeout=timeout)
    except httpx.TimeoutException as exc:
        raise ActivityError(str(exc) or "timed out", error_type="HttpTimeout") from exc
    except httpx.HTTPError as exc:
        raise ActivityError(str(exc), error_type="HttpError") from exc
    if 400 <= response.status_code < 500:
        raise ActivityError(f"HTTP {response.status_code}", error_type="HttpClientError")
    if response.status_code >= 500:
        raise ActivityError(f"HTTP {response.status_code}", error_type="HttpServerError")
    try:
        data = response.json()
    except ValueError:
        data = response.text[:2000]
    return {f"{ctx.key}_response": {"status_code": response.status_code, "body": data}}


def _record_compensation(ctx: ActivityContext) -> dict:
    return {"compensated": ctx.key}


def register_builtin_handlers() -> None:
    register(
        Handler(
            "ManualActivityHandler",
            _manual,
            description="A person's step: a Task, completed by them.",
            manual=True,
            output={"result": "object merged into the context"},
        )
    )
    register(
        Handler(
            "AutomatedActivityHandler",
            _automated,
            description="Phase START / COMPLETE marker (parameters.action).",
            input={"action": "START|COMPLETE"},
            output={"phase_log": "object"},
        )
    )
    register(
        Handler(
            "EmitEventHandler",
            _emit_event,
            description="Publish an event to the spine.",
            input={"event_type": "workflow.*", "title": "str"},
            output={"<key>_event_id": "int"},
        )
    )
    register(
        Handler(
            "CreateTaskHandler",
            _create_task,
            description="Create a follow-up Task.",
            input={"title": "str", "task_type": "str", "priority": "str"},
            output={"<key>_task_id": "int"},
        )
    )
    register(
        Handler(
            "HttpRequestHandler",
            _http_request,
            description="Signed HTTP POST with a timeout.",
            input={"url": "str", "secret": "str", "timeout_seconds": "number", "body": "object"},
            output={"<key>_response": "object"},
        )
    )
    register(
        Handler(
            "RecordCompensationHandler",
            _record_compensation,
            compensate=_record_compensation,
            description="Compensation that only records itself.",
        )
    )
    from workflow.engine import test_cycle, work_units

    work_units.register_work_unit_handler(register)
    test_cycle.register_handlers(register)
