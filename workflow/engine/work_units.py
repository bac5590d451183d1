"""The engine and the runs app, both ways.

- **Composite work units**: a published workflow template is a work unit of the runs app.
  :class:`EngineCompositeExecutor` (registered from ``WorkflowConfig.ready``) resolves a
  template by name (its latest published version) or id, starts an instance with the run's input
  as its context, linked to the run (``WorkflowInstance.run_id``), and cancels it. When the
  instance ends — completed, failed or cancelled — its ``workflow.instance.*`` event carries the
  run id and :func:`on_event` reports to ``runs.services.composite_run_finished``.
- **The ``run_work_unit`` handler** starts a run of a work unit (atomic or composite) through
  ``runs.services.run_create`` and waits for it without holding a worker (``AwaitRun``); the
  run's ``runs.run.completed / failed / cancelled`` event, seen by :func:`on_event`, finishes
  the activity with the run's output or fails it with the run's error type (then the activity's
  retry policy decides).

Both directions go through the outbox (at least once; every step idempotent), never a call
inside the other app's transaction: a run is locked after the engine's rows in no transaction.
"""

from __future__ import annotations

import logging

from django.db import transaction

from ocx.core import errors
from workflow.engine.handlers import ActivityContext, ActivityError, AwaitRun, Handler
from workflow.engine.models import (
    ActivityInstance,
    InstanceState,
    TemplateStatus,
    WorkflowInstance,
    WorkflowTemplate,
)

logger = logging.getLogger(__name__)
INSTANCE_ENDS = {
    "workflow.instance.completed": "completed",
    "workflow.instance.failed": "failed",
    "workflow.instance.cancelled": "cancelled",
}
RUN_ENDS = ("runs.run.completed", "runs.run.failed", "runs.run.cancelled")


# --- composite work units ---------------------------------------------------------------------
class EngineCompositeExecutor:
    """``runs.services.CompositeExecutor`` for published workflow templates."""

    def resolve(self, *, tenant, ref: str):
        from runs.services import CompositeUnit

        published = WorkflowTemplate.objects.for_tenant(tenant).filter(status=TemplateStatus.PUBLISHED)
        ref = str(ref or "").strip()
        template = published.filter(name=ref).order_by("-version").first()
        if template is None and ref.isdigit() and len(ref) < 19:
            template = published.filter(pk=int(ref)).first()
        if template is None:
            return None
        return CompositeUnit(id=str(template.pk), name=template.name, version=template.version)

    def start(self, *, run, unit, input, actor) -> str:
        from workflow.engine.services import instance_start

        context = input if isinstance(input, dict) else {"input": input}
        inst = instance_start(
            tenant=run.tenant_id, actor=actor, template_id=int(unit.id), context=context, run_id=run.pk
        )
        return str(inst.pk)

    def cancel(self, *, run, instance_ref: str, actor, reason: str) -> None:
        # Called under the run's lock: the instance (locked before runs in every other path) is
        # cancelled after commit; the run's cancelled event is the at-least-once backstop.
        tenant_id = run.tenant_id
        transaction.on_commit(lambda: cancel_instance(tenant_id=tenant_id, instance_ref=instance_ref, reason=reason))


def cancel_instance(*, tenant_id: int, instance_ref, reason: str) -> bool:
    """Cancel the instance of a cancelled composite run, if it is still open."""
    from workflow.engine.services import instance_cancel

    try:
        instance_id = int(instance_ref)
    except (TypeError, ValueError):
        return False
    state = (
        WorkflowInstance.objects.for_tenant(tenant_id).filter(pk=instance_id).values_list("state", flat=True).first()
    )
    if state not in (InstanceState.PENDING, InstanceState.RUNNING, InstanceState.FAILED):
        return False
    try:
        instance_cancel(tenant=tenant_id, actor=None, instance_id=instance_id, reason=reason or "run cancelled")
    except errors.InvalidTransition:
        return False  # it ended meanwhile
    return True


def _instance_ended(event, outcome: str) -> None:
    from runs.services import composite_run_finished

    payload = event.event_metadata or {}
    inst = (
        WorkflowInstance.objects.for_tenant(event.tenant_id)
        .filter(pk=payload.get("instance_id"))
        .only("id", "context", "error", "run_id", "state")
        .first()
    )
    if inst is None or inst.run_id is None:
        return
    error_type = ""
    if outcome == "failed":
        incident = inst.incidents.order_by("-created_at", "-id").values_list("error_type", flat=True).first()
        error_type = incident or "WorkflowFailed"
    try:
        composite_run_finished(
            actor=None, run_id=inst.run_id, outcome=outcome, output=inst.context if outcome == "completed" else None,
            error=inst.error or None, error_type=error_type or None,
        )  # fmt: skip
    except errors.NotFound:
        logger.warning("instance %s names run %s, which does not exist", inst.pk, inst.run_id)


# --- the run_work_unit handler ----------------------------------------------------------------
def _run_input(ctx: ActivityContext) -> dict:
    params = ctx.parameters
    if "input" in params or "input_from_context" in params:
        data = dict(params.get("input") or {})
        for key in params.get("input_from_context") or []:
            if key in ctx.context:
                data[key] = ctx.context[key]
    else:
        data = dict(ctx.context)
    if ctx.item is not None:
        data["item"] = ctx.item
    return data


def run_work_unit(ctx: ActivityContext) -> dict:
    """Start a run of ``parameters.work_unit_id`` (``work_unit_type`` atomic / composite, or
    unset: the runs app decides; ``environment``) and wait for it (``AwaitRun``)."""
    from runs.services import run_create
    from workflow.engine.services.child_runs import run_key

    work_unit = str(ctx.parameters.get("work_unit_id") or "").strip()
    if not work_unit:
        raise ActivityError("parameters.work_unit_id is required.", error_type="InvalidParameters")
    starter = (
        WorkflowInstance.objects.for_tenant(ctx.tenant_id)
        .filter(pk=ctx.instance_id)
        .values_list("started_by", flat=True)
        .first()
    )
    actor = None
    if starter is not None:
        from django.contrib.auth import get_user_model

        actor = get_user_model().objects.filter(pk=starter).first()
    if actor is None:
        raise ActivityError(
            "A work unit runs on behalf of a person: this instance has no starting user.", error_type="NoActor"
        )
    options = {k: ctx.parameters[k] for k in ("work_unit_type", "environment", "execution") if ctx.parameters.get(k)}
    try:
        run, _created = run_create(
            tenant=ctx.tenant_id, actor=actor, work_unit_id=work_unit, input=_run_input(ctx),
            idempotency_key=run_key(ctx.activity_id, ctx.attempt), **options,
        )  # fmt: skip
    except errors.ApplicationError as exc:
        raise ActivityError(exc.message, error_type=f"Run{type(exc).__name__}") from exc
    raise AwaitRun(run.pk)


def _run_ended(event) -> None:
    from runs.selectors import run_get
    from workflow.engine.services import activity_fail, activity_succeed
    from workflow.engine.services.child_runs import parse_run_key, run_result

    payload = event.event_metadata or {}
    if payload.get("execution") == "workflow" and event.type == "runs.run.cancelled":
        instance = (
            WorkflowInstance.objects.for_tenant(event.tenant_id)
            .filter(run_id=payload.get("run_id"))
            .values_list("pk", flat=True)
            .first()
        )
        if instance is not None:
            cancel_instance(tenant_id=event.tenant_id, instance_ref=instance, reason="run cancelled")
    try:
        run = run_get(tenant=event.tenant_id, run_id=payload.get("run_id") or event.entity_id)
    except errors.ApplicationError:
        return
    owner = parse_run_key(run.idempotency_key)
    if owner is None:
        return
    activity_id, attempt = owner
    key = (
        ActivityInstance.objects.all_tenants()
        .filter(pk=activity_id, tenant_id=event.tenant_id)
        .values_list("activity_template__key", flat=True)
        .first()
    )
    if key is None:
        return
    if run.status == "completed":
        activity_succeed(
            activity_id=activity_id, attempt=attempt, output=run_result(key=key, run_id=run.pk, output=run.output)
        )
    elif run.status in ("failed", "cancelled"):
        default = "RunCancelled" if run.status == "cancelled" else "RunFailed"
        activity_fail(
            activity_id=activity_id, attempt=attempt, error_type=run.error_type or default,
            error=run.error or f"run {run.pk} {run.status}",
        )  # fmt: skip


def on_event(event) -> None:
    """Outbox handler: a composite run's instance ended → finish the run; a run an activity
    waits for ended → finish (or fail) the activity. Idempotent both ways."""
    outcome = INSTANCE_ENDS.get(event.type)
    if outcome is not None:
        if (event.event_metadata or {}).get("run_id"):
            _instance_ended(event, outcome)
        return
    if event.type in RUN_ENDS:
        _run_ended(event)


def register_work_unit_handler(register) -> None:
    register(
        Handler(
            "RunWorkUnitHandler",
            run_work_unit,
            description="Run a work unit (atomic registry activity or composite workflow) and wait for its result.",
            input={
                "work_unit_id": "str (name or id)",
                "work_unit_type": "atomic|composite (optional)",
                "environment": "DEV|STAGING|PROD",
                "input": "object (default: the context)",
                "input_from_context": "[context keys]",
            },
            output={"…": "the run's output object, merged into the context"},
        )
    )
