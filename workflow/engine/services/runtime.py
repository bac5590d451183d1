"""Running instances: start, the attempt lifecycle (begin / succeed / fail) and the next-step
decision.

Every decision about one instance is taken under that instance's row lock (lock order:
instance → activity rows, a fan-out parent before its children), inside the transaction that
records it; Celery messages are queued on commit and only say "run attempt n of activity x".
So a duplicated or late message finds the activity no longer in the state it expects and does
nothing, and a join counter (``children_done`` / ``remaining_dependencies``) moves exactly once
per finished child, whichever worker finishes first.
"""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from activity_feed.services import publish
from ocx.core import errors
from ocx.core.db import get_or_404
from ocx.core.fsm import fsm_transition
from ocx.core.locks import lock_get_or_404, lock_rows
from ocx.core.services import service
from workflow.automation.predicates import evaluate_predicate
from workflow.engine import planner
from workflow.engine.handlers import ActivityContext
from workflow.engine.models import (
    ActivityAttempt,
    ActivityInstance,
    ActivityState,
    ActivityTemplate,
    Incident,
    InstanceState,
    PhaseTemplate,
    TemplateStatus,
    WorkflowInstance,
    WorkflowTemplate,
    celery_task_id_for,
)

DISPATCH_SLACK_SECONDS = 60  # a queued message must have started by then, or the sweep resends it
ACTIVITY = "ActivityInstance"


def now():
    """The engine's clock (tests replace it; nothing here sleeps)."""
    return timezone.now()


# --- events -------------------------------------------------------------------------------
def emit(inst: WorkflowInstance, kind: str, *, act: ActivityInstance | None = None, actor=None, **payload: Any):
    """``workflow.instance.* / workflow.activity.* / workflow.incident.*`` in the caller's transaction."""
    entity, entity_id = ("workflow_activity", act.pk) if act is not None else ("workflow_instance", inst.pk)
    data = {"instance_id": inst.pk, "template_id": inst.template_id, "instance_state": inst.state, **payload}
    if inst.run_id:
        data["run_id"] = str(inst.run_id)  # a composite run's instance: its end finishes the run
    if act is not None:
        data.update(activity_id=act.pk, activity_key=act.instance_id, activity_state=act.state)
    if kind.startswith("incident."):
        entity = "workflow_incident"
        entity_id = payload.get("incident_id", entity_id)
    return publish(
        tenant=inst.tenant_id,
        type=f"workflow.{kind}",
        entity_type=entity,
        entity_id=entity_id,
        payload=json.loads(json.dumps(data, default=str)),
        actor=actor,
        priority="high" if kind in ("incident.raised", "instance.failed", "activity.escalated") else "normal",
        correlation_id=f"workflow-instance-{inst.pk}",
        idempotency_key=f"workflow:engine:{uuid.uuid4().hex}",  # each write is one event, exactly once
    )


def move(obj, *, target: str, actor, reason: str = "", arguments: dict | None = None, fields=(), event=None, inst=None):
    """One FSM transition of a row this service already holds locked, with its event."""
    is_activity = isinstance(obj, ActivityInstance)

    def publish_event(row, edge, source):
        if event is None:
            return None
        if is_activity:
            return emit(inst, event, act=row, actor=actor, from_state=source, reason=reason)
        return emit(row, event, actor=actor, from_state=source, reason=reason)

    return fsm_transition(
        obj, entity_type=ACTIVITY if is_activity else "WorkflowInstance", actor=actor, target=target, reason=reason,
        lock=False, arguments=arguments or {}, update_fields=list(fields), publish=publish_event,
    )  # fmt: skip


class Plan:
    """What to send once the transaction commits: (activity id, attempt, countdown, timeout)."""

    def __init__(self):
        self.sends: list[tuple[int, int, float, int]] = []
        self.after: list = []

    def dispatch(self, act: ActivityInstance, *, countdown: float = 0.0) -> None:
        self.sends.append((act.pk, act.retry_count + 1, countdown, act.activity_template.timeout_seconds))

    def commit(self) -> None:
        sends, after = list(self.sends), list(self.after)
        if sends:
            transaction.on_commit(lambda: send_activities(sends))
        for callback in after:
            transaction.on_commit(callback)


def send_activities(sends) -> None:
    from workflow.engine.tasks import run_activity

    for activity_id, attempt, countdown, timeout in sends:
        run_activity.apply_async(
            (activity_id, attempt), countdown=countdown or None, soft_time_limit=timeout, time_limit=timeout + 15,
            task_id=celery_task_id_for(activity_id, attempt),
        )  # fmt: skip


# --- start --------------------------------------------------------------------------------
def resolve_template(*, tenant, template_id=None, template_name: str | None = None) -> WorkflowTemplate:
    qs = WorkflowTemplate.objects.for_tenant(tenant).filter(status=TemplateStatus.PUBLISHED)
    if template_id is not None:
        return get_or_404(qs, "Published workflow template", pk=template_id)
    if template_name:
        found = qs.filter(name=template_name).order_by("-version").first()
        if found is None:
            raise errors.NotFound("Published workflow template not found.", details={"template_name": template_name})
        return found
    raise errors.ValidationError("Give template_id or template_name.", details={"template_id": "required"})


@service
def instance_start(
    *, tenant, actor, template_id=None, template_name: str | None = None, context: dict | None = None, run_id=None
) -> WorkflowInstance:
    """Start an instance pinned to a published template version; ready activities are queued on
    commit. ``run_id``: the composite run (runs app) this instance executes."""
    if context is not None and not isinstance(context, dict):
        raise errors.ValidationError("context must be a JSON object.", details={"context": "object expected"})
    template = resolve_template(tenant=tenant, template_id=template_id, template_name=template_name)
    given = dict(context or {})
    fan_keys = set(
        PhaseTemplate.objects.filter(template=template).exclude(fan_out_over="").values_list("fan_out_over", flat=True)
    )
    acts = list(
        ActivityTemplate.objects.filter(template=template)
        .select_related("phase")
        .order_by("phase__order", "position", "id")
    )
    inst = WorkflowInstance.objects.create(
        tenant_id=template.tenant_id, template=template, context={**template.default_context, **given},
        start_keys=sorted(k for k in given if k in fan_keys), started_by=actor if getattr(actor, "pk", None) else None,
        remaining=len(acts), run_id=run_id,
    )  # fmt: skip
    rows = ActivityInstance.objects.bulk_create(
        ActivityInstance(
            tenant_id=inst.tenant_id,
            workflow=inst,
            activity_template=a,
            instance_id=a.key,
            execution_mode=a.execution_mode,
            remaining_dependencies=a.upstream_count,
        )  # fmt: skip
        for a in acts
    )
    for row, a in zip(rows, acts, strict=True):
        row.activity_template = a
    move(
        inst,
        target=InstanceState.RUNNING,
        actor=actor,
        arguments={"at": now()},
        fields=["started_at"],
        event="instance.started",
    )
    plan = Plan()
    # The rows were inserted by this transaction: no other one can see them, so no row lock is
    # needed (and none is taken: a caller holding later-order locks, a run being created in a
    # workspace, may start an instance).
    for row in rows:
        if row.remaining_dependencies == 0:
            activate(inst, row, plan, actor=actor)
    finish_if_done(inst, actor=actor)
    plan.commit()
    return inst


def merge_context(inst: WorkflowInstance, output: dict) -> None:
    protected = set(inst.start_keys or [])
    for key, value in (output or {}).items():
        if key not in protected:  # a list given at start wins over one an activity writes
            inst.context[key] = value
    inst.save(update_fields=["context"])


def activate(inst: WorkflowInstance, act: ActivityInstance, plan: Plan, *, actor=None) -> None:
    """An activity whose dependencies are done: skip (false condition), fan out, wait for a
    person, or queue it."""
    tpl = act.activity_template
    at = now()
    holds = True
    if tpl.conditional_expression:
        try:
            holds = evaluate_predicate(tpl.conditional_expression, event_data=inst.context)
        except Exception as exc:  # noqa: BLE001 - a condition that cannot be evaluated is the activity's failure
            fail_final(inst, act, plan, actor=actor, error_type="ConditionError", error=f"{type(exc).__name__}: {exc}", pending=True)  # fmt: skip
            return
    if not holds:
        move(act, target=ActivityState.SKIPPED, actor=actor, reason="condition false", arguments={"at": at, "reason": "condition false"}, fields=["completed_at", "skip_reason"], event="activity.skipped", inst=inst)  # fmt: skip
        done(inst, act, plan, actor=actor)
        return
    if tpl.fans_out:
        items = inst.context.get(tpl.phase.fan_out_over)
        if not isinstance(items, list):
            fail_final(inst, act, plan, actor=actor, error_type="InvalidContext", error=f"context.{tpl.phase.fan_out_over} is not a list", pending=True)  # fmt: skip
            return
        move(act, target=ActivityState.RUNNING, actor=actor, arguments={"at": at}, fields=["started_at", "first_started_at"], event="activity.fanned_out", inst=inst)  # fmt: skip
        act.children_total = len(items)
        act.save(update_fields=["children_total"])
        children = ActivityInstance.objects.bulk_create(
            ActivityInstance(
                tenant_id=inst.tenant_id,
                workflow=inst,
                activity_template=tpl,
                instance_id=f"{tpl.key}[{i}]",
                parent_activity=act,
                execution_mode=act.execution_mode,
                item=item,
                item_index=i,
            )  # fmt: skip
            for i, item in enumerate(items)
        )
        if not children:
            complete(inst, act, plan, result=[], actor=actor)
            return
        for child in children[
            : planner.children_to_dispatch(pending=len(children), active=0, max_concurrency=tpl.phase.max_concurrency)
        ]:
            child.activity_template = tpl
            start_leaf(inst, child, plan, actor=actor)
        return
    start_leaf(inst, act, plan, actor=actor)


def start_leaf(inst: WorkflowInstance, act: ActivityInstance, plan: Plan, *, actor=None) -> None:
    """A single activity or one fan-out child: a manual Task, or a queued attempt."""
    tpl = act.activity_template
    at = now()
    if tpl.manual:
        from workflow.engine.services.manual import open_task

        move(act, target=ActivityState.WAITING, actor=actor, arguments={"at": at, "due_at": at + timedelta(seconds=tpl.timeout_seconds)}, fields=["started_at", "due_at", "escalated_at", "first_started_at"], event="activity.waiting", inst=inst)  # fmt: skip
        open_task(inst, act)
        return
    move(act, target=ActivityState.SCHEDULED, actor=actor, arguments={"dispatch_deadline": at + timedelta(seconds=DISPATCH_SLACK_SECONDS)}, fields=["dispatch_deadline", "attempt_deadline", "celery_task_id"], event="activity.scheduled", inst=inst)  # fmt: skip
    plan.dispatch(act)


# --- attempts -----------------------------------------------------------------------------
def _lock_instance_and_activity(
    activity_id: int,
) -> tuple[WorkflowInstance | None, ActivityInstance | None, ActivityInstance | None]:
    """Lock (instance, fan-out parent, activity), in that order, or Nones."""
    head = (
        ActivityInstance.objects.all_tenants()
        .filter(pk=activity_id)
        .values("workflow_id", "parent_activity_id")
        .first()
    )
    if head is None:
        return None, None, None
    inst = lock_rows(
        WorkflowInstance.objects.all_tenants().filter(pk=head["workflow_id"]).select_related("template"), of=("self",)
    )[0]
    ids = [i for i in (head["parent_activity_id"], activity_id) if i]
    rows = {
        r.pk: r
        for r in lock_rows(
            ActivityInstance.objects.all_tenants().filter(pk__in=ids).select_related("activity_template__phase"),
            of=("self",),
        )
    }
    return inst, rows.get(head["parent_activity_id"]), rows[activity_id]


@service
def activity_begin(*, activity_id: int, attempt: int, actor=None) -> ActivityContext | None:
    """Claim attempt ``attempt`` of a scheduled activity; None if this message is stale or doubled."""
    inst, _parent, act = _lock_instance_and_activity(activity_id)
    if act is None or act.state != ActivityState.SCHEDULED or act.retry_count + 1 != attempt:
        return None
    if inst.state not in (InstanceState.RUNNING, InstanceState.FAILED):
        return None  # cancelled or compensating; other branches of a failed instance still run
    at = now()
    tpl = act.activity_template
    move(act, target=ActivityState.RUNNING, actor=actor, arguments={"at": at, "attempt_deadline": at + timedelta(seconds=tpl.timeout_seconds)}, fields=["retry_count", "started_at", "attempt_deadline", "dispatch_deadline", "first_started_at"], event="activity.started", inst=inst)  # fmt: skip
    ActivityAttempt.objects.create(tenant_id=act.tenant_id, activity=act, number=act.retry_count, started_at=at)
    return ActivityContext(
        tenant_id=inst.tenant_id, instance_id=inst.pk, activity_id=act.pk, key=tpl.key, name=tpl.name,
        context=json.loads(json.dumps(inst.context)), parameters=dict(tpl.parameters), item=act.item,
        item_index=act.item_index, attempt=act.retry_count,
    )  # fmt: skip


def _close_attempt(act: ActivityInstance, *, outcome: str, error_type: str = "", error: str = "") -> None:
    ActivityAttempt.objects.all_tenants().filter(activity=act, number=act.retry_count).update(
        finished_at=now(), outcome=outcome, error_type=error_type, error=error[:4000]
    )


@service
def activity_succeed(*, activity_id: int, attempt: int, output: Any, actor=None) -> bool:
    """Record attempt ``attempt``'s result and decide what runs next (once, whoever reports it)."""
    inst, parent, act = _lock_instance_and_activity(activity_id)
    if act is None or act.state != ActivityState.RUNNING or act.retry_count != attempt:
        return False
    _close_attempt(act, outcome="completed")
    plan = Plan()
    complete(inst, act, plan, result=output, actor=actor, parent=parent)
    plan.commit()
    return True


@service
def activity_fail(*, activity_id: int, attempt: int, error_type: str, error: str, actor=None) -> str:
    """Attempt ``attempt`` failed: retry after the policy's backoff, or fail for good (incident)."""
    inst, parent, act = _lock_instance_and_activity(activity_id)
    if act is None or act.state != ActivityState.RUNNING or act.retry_count != attempt:
        return "stale"
    tpl = act.activity_template
    _close_attempt(
        act, outcome="timed_out" if error_type == "ActivityTimeout" else "failed", error_type=error_type, error=error
    )
    at = now()
    elapsed = (at - (act.first_started_at or at)).total_seconds()
    decision = planner.decide_failure(
        tpl.retry_policy, error_type=error_type, attempts=act.retry_count - act_retry_base(act), manual=tpl.manual,
        elapsed=elapsed, total_timeout=tpl.total_timeout_seconds,
    )  # fmt: skip
    plan = Plan()
    if act.run_id and error_type == "ActivityTimeout":  # the run it waited for is abandoned
        from workflow.engine.services.child_runs import cancel_runs_on_commit

        cancel_runs_on_commit(tenant_id=inst.tenant_id, run_ids=[act.run_id], reason="workflow activity timed out")
    if decision.retry and inst.state == InstanceState.RUNNING:
        move(act, target=ActivityState.SCHEDULED, actor=actor, reason=error[:200], arguments={"dispatch_deadline": at + timedelta(seconds=decision.countdown + DISPATCH_SLACK_SECONDS), "error_type": error_type, "error": error[:4000]}, fields=["dispatch_deadline", "attempt_deadline", "last_error", "last_error_type", "celery_task_id"], event="activity.retrying", inst=inst)  # fmt: skip
        plan.dispatch(act, countdown=decision.countdown)
        plan.commit()
        return "retry"
    fail_final(inst, act, plan, actor=actor, error_type=error_type, error=error, parent=parent, why=decision.reason)
    plan.commit()
    return "failed"


def act_retry_base(act: ActivityInstance) -> int:
    """Attempts made before the last operator retry (the policy counts from there)."""
    return act.retry_base


def fail_final(
    inst, act, plan, *, actor, error_type: str, error: str, parent=None, why: str = "", pending=False
) -> Incident:
    """The activity failed for good: incident, instance failed, compensation if the template asks."""
    at = now()
    if pending:  # never started (bad fan-out context): record the error on a failed row
        move(act, target=ActivityState.RUNNING, actor=actor, arguments={"at": at}, fields=["started_at", "first_started_at"], inst=inst)  # fmt: skip
    move(act, target=ActivityState.FAILED, actor=actor, reason=why or error[:200], arguments={"at": at, "error_type": error_type, "error": error[:4000]}, fields=["attempt_deadline", "last_error", "last_error_type"], event="activity.failed", inst=inst)  # fmt: skip
    if parent is not None and parent.state == ActivityState.RUNNING:
        move(parent, target=ActivityState.FAILED, actor=actor, arguments={"at": at, "error_type": error_type, "error": f"child {act.instance_id} failed"}, fields=["attempt_deadline", "last_error", "last_error_type"], event="activity.failed", inst=inst)  # fmt: skip
    incident = Incident.objects.create(
        tenant_id=inst.tenant_id, workflow=inst, activity=act, error_type=error_type, message=error[:4000],
        attempts=act.retry_count,
    )  # fmt: skip
    emit(inst, "incident.raised", act=act, actor=actor, incident_id=incident.pk, error_type=error_type, message=error[:500], attempts=act.retry_count)  # fmt: skip
    if inst.state == InstanceState.RUNNING:
        move(inst, target=InstanceState.FAILED, actor=actor, reason=error[:200], arguments={"at": at, "error": f"{act.instance_id}: {error_type}: {error}"[:4000]}, fields=["finished_at", "error"], event="instance.failed")  # fmt: skip
        if inst.template.compensate_on_failure:
            instance_pk = inst.pk
            plan.after.append(lambda: _queue_compensation(instance_pk))
    return incident


def _queue_compensation(instance_id: int) -> None:
    from workflow.engine.tasks import compensate_instance

    compensate_instance.delay(instance_id)


# --- completion and the next step ---------------------------------------------------------
def complete(inst, act, plan, *, result, actor=None, parent=None) -> None:
    tpl = act.activity_template
    inst.completion_seq = (inst.completion_seq or 0) + 1
    inst.save(update_fields=["completion_seq"])
    act.completion_order = inst.completion_seq
    move(act, target=ActivityState.COMPLETED, actor=actor, arguments={"at": now(), "result": result}, fields=["completed_at", "result", "attempt_deadline", "completion_order"], event="activity.completed", inst=inst)  # fmt: skip
    if act.parent_activity_id is None and isinstance(result, dict) and not tpl.fans_out:
        merge_context(inst, {k: v for k, v in result.items() if not k.startswith("_")})
    done(inst, act, plan, actor=actor, parent=parent)


def done(inst, act, plan, *, actor=None, parent=None) -> None:
    """``act`` is completed or skipped: count it where it is awaited (once: the caller moved it
    out of an open state under its lock) and start what became ready."""
    if act.parent_activity_id is not None:
        if parent is None:
            parent = lock_rows(
                ActivityInstance.objects.all_tenants()
                .filter(pk=act.parent_activity_id)
                .select_related("activity_template__phase"),
                of=("self",),
            )[0]
        _child_done(inst, parent, plan, actor=actor)
        return
    inst.remaining = max(inst.remaining - 1, 0)
    inst.save(update_fields=["remaining"])
    dependents = act.activity_template.dependents
    if dependents:
        for row in lock_rows(
            ActivityInstance.objects.all_tenants()
            .filter(workflow=inst, parent_activity__isnull=True, activity_template_id__in=dependents)
            .select_related("activity_template__phase"),
            of=("self",),
        ):
            row.remaining_dependencies = max(row.remaining_dependencies - 1, 0)
            row.save(update_fields=["remaining_dependencies"])
            if (
                row.remaining_dependencies == 0
                and row.state == ActivityState.PENDING
                and inst.state == InstanceState.RUNNING
            ):
                activate(inst, row, plan, actor=actor)
    finish_if_done(inst, actor=actor)


def _child_done(inst, parent, plan, *, actor=None) -> None:
    """The join: one more child of ``parent`` is done (counter under the parent's row lock)."""
    parent.children_done += 1
    parent.save(update_fields=["children_done"])
    if parent.children_done >= parent.children_total:
        if parent.state != ActivityState.RUNNING:
            return  # a failed sibling holds the join; an operator retry or skip reopens it
        children = ActivityInstance.objects.all_tenants().filter(parent_activity=parent).order_by("item_index")
        results = [c.result for c in children]
        merge_context(inst, {parent.activity_template.key: results})
        complete(inst, parent, plan, result={"items": len(results)}, actor=actor)
        return
    if inst.state == InstanceState.RUNNING:
        dispatch_more_children(inst, parent, plan, actor=actor)


def dispatch_more_children(inst, parent, plan, *, actor=None) -> None:
    tpl = parent.activity_template
    limit = tpl.phase.max_concurrency
    siblings = ActivityInstance.objects.all_tenants().filter(parent_activity=parent)
    active = siblings.filter(state__in=[ActivityState.SCHEDULED, ActivityState.RUNNING, ActivityState.WAITING]).count()
    pending = siblings.filter(state=ActivityState.PENDING)
    count = planner.children_to_dispatch(pending=pending.count(), active=active, max_concurrency=limit)
    if count:
        for child in lock_rows(
            ActivityInstance.objects.all_tenants().filter(
                pk__in=list(pending.order_by("item_index").values_list("pk", flat=True)[:count])
            )
        ):
            child.activity_template = tpl
            start_leaf(inst, child, plan, actor=actor)


def finish_if_done(inst, *, actor=None) -> None:
    if inst.remaining == 0 and inst.state == InstanceState.RUNNING:
        move(inst, target=InstanceState.COMPLETED, actor=actor, arguments={"at": now()}, fields=["finished_at"], event="instance.completed")  # fmt: skip


def lock_instance(*, tenant, instance_id) -> WorkflowInstance:
    return lock_get_or_404(
        WorkflowInstance.objects.for_tenant(tenant).select_related("template"),
        "Workflow instance",
        pk=instance_id,
        of=("self",),
    )
