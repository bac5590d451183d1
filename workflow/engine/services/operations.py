"""Operator actions (retry from failure, skip, cancel, bulk retry of incidents), compensation and
the beat sweep that repairs lost messages, timed-out attempts and overdue manual steps."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from ocx.core import errors
from ocx.core.db import Due, claim_due_rows
from ocx.core.locks import lock_rows
from ocx.core.services import service
from workflow.engine import handlers
from workflow.engine.handlers import ActivityContext
from workflow.engine.models import (
    ActivityInstance,
    ActivityState,
    Incident,
    InstanceState,
    WorkflowInstance,
)
from workflow.engine.services import child_runs, runtime
from workflow.engine.services.runtime import Plan, emit, move

OPERATOR_EDITABLE = (ActivityState.FAILED,)


def _resolve_incidents(inst, acts, *, actor, resolution: str) -> None:
    ids = [a.pk for a in acts]
    # Incidents change only under their instance's lock (held): no row lock of their own needed.
    for incident in Incident.objects.all_tenants().filter(workflow=inst, activity_id__in=ids, resolved_at__isnull=True):
        incident.resolved_at, incident.resolution = runtime.now(), resolution
        incident.resolved_by = actor if getattr(actor, "pk", None) else None
        incident.save(update_fields=["resolved_at", "resolution", "resolved_by"])
        emit(
            inst,
            "incident.resolved",
            actor=actor,
            incident_id=incident.pk,
            resolution=resolution,
            activity_id=incident.activity_id,
        )


def _resume_if_clear(inst, *, actor, reason: str) -> None:
    if (
        inst.state == InstanceState.FAILED
        and not Incident.objects.all_tenants().filter(workflow=inst, resolved_at__isnull=True).exists()
    ):
        move(inst, target=InstanceState.RUNNING, actor=actor, reason=reason, arguments={"at": runtime.now()}, fields=["finished_at", "error"], event="instance.resumed")  # fmt: skip


def _reopen_parent(inst, parent, *, actor) -> None:
    if parent.state == ActivityState.FAILED and not parent.children.filter(state=ActivityState.FAILED).exists():
        move(parent, target=ActivityState.RUNNING, actor=actor, reason="branches reopened", arguments={"at": parent.started_at or runtime.now()}, fields=["started_at", "first_started_at"], event="activity.reopened", inst=inst)  # fmt: skip


def _rerun(inst, act, plan, *, actor, reason: str) -> None:
    act.retry_base = act.retry_count
    act.save(update_fields=["retry_base"])
    if act.parent_activity_id is None and act.retry_count == 0:
        runtime.activate(inst, act, plan, actor=actor)  # failed before any attempt (its condition): decide again
    else:
        runtime.start_leaf(inst, act, plan, actor=actor)


def _lock_failed(inst, activity_ids=None) -> list[ActivityInstance]:
    qs = ActivityInstance.objects.all_tenants().filter(workflow=inst, state=ActivityState.FAILED)
    if activity_ids is not None:
        parents = (
            ActivityInstance.objects.all_tenants()
            .filter(pk__in=activity_ids)
            .values_list("parent_activity_id", flat=True)
        )
        qs = qs.filter(
            Q(pk__in=activity_ids) | Q(parent_activity_id__in=activity_ids) | Q(pk__in=[p for p in parents if p])
        )
    return lock_rows(qs.select_related("activity_template__phase"), of=("self",))


def _restart_ready(inst, plan, *, actor) -> None:
    """After a resume: start what became ready while the instance was failed, and fill fan-outs."""
    rows = lock_rows(
        ActivityInstance.objects.all_tenants()
        .filter(workflow=inst, parent_activity__isnull=True, state__in=[ActivityState.PENDING, ActivityState.RUNNING])
        .select_related("activity_template__phase"),
        of=("self",),
    )
    for row in rows:
        if row.state == ActivityState.PENDING and row.remaining_dependencies == 0:
            runtime.activate(inst, row, plan, actor=actor)
        elif row.state == ActivityState.RUNNING and row.activity_template.fans_out:
            runtime.dispatch_more_children(inst, row, plan, actor=actor)


@service
def instance_retry(
    *, tenant, actor, instance_id: int, activity_ids: list[int] | None = None, reason: str = ""
) -> WorkflowInstance:
    """Retry from the failure: the failed activities (in a fan-out, only the failed branches) run
    again; completed work is kept. Incidents of what is rerun are resolved."""
    inst = runtime.lock_instance(tenant=tenant, instance_id=instance_id)
    if inst.state != InstanceState.FAILED:
        raise errors.InvalidTransition(
            current_state=inst.state, target_state=InstanceState.RUNNING, entity_type="WorkflowInstance"
        )
    failed = _lock_failed(inst, activity_ids)
    if not failed:
        raise errors.Conflict("Nothing failed to retry.", details={"activity_ids": activity_ids})
    leaves = [a for a in failed if not (a.parent_activity_id is None and a.activity_template.fans_out)]
    _resolve_incidents(inst, leaves, actor=actor, resolution="retried")
    _resume_if_clear(inst, actor=actor, reason=reason or "operator retry")
    plan = Plan()
    for act in leaves:  # (branches of a still-failed instance may run: their results are kept)
        _rerun(inst, act, plan, actor=actor, reason=reason)
    # a fan-out whose failed branches all run again is open again (its join can complete)
    for parent in [a for a in failed if a not in leaves]:
        if parent.children_total == 0 and not parent.children.exists():
            runtime.activate(inst, parent, plan, actor=actor)  # it failed before fanning out (bad context)
        else:
            _reopen_parent(inst, parent, actor=actor)
    if inst.state == InstanceState.RUNNING:
        _restart_ready(inst, plan, actor=actor)
    plan.commit()
    return inst


@service
def activity_skip(*, tenant, actor, instance_id: int, activity_id: int, reason: str) -> ActivityInstance:
    """Skip a failed activity (or branch) with a reason: it counts as done for what waits on it."""
    if not (reason or "").strip():
        raise errors.ValidationError("A reason is required to skip an activity.", details={"reason": "required"})
    inst = runtime.lock_instance(tenant=tenant, instance_id=instance_id)
    head = (
        ActivityInstance.objects.for_tenant(tenant)
        .filter(pk=activity_id, workflow=inst)
        .values("parent_activity_id")
        .first()
    )
    if head is None:
        raise errors.NotFound("Activity not found.", details={"activity_id": str(activity_id)})
    ids = [i for i in (head["parent_activity_id"], activity_id) if i]
    rows = {
        r.pk: r
        for r in lock_rows(
            ActivityInstance.objects.all_tenants().filter(pk__in=ids).select_related("activity_template__phase"),
            of=("self",),
        )
    }
    act, parent = rows[activity_id], rows.get(head["parent_activity_id"])
    if act.state != ActivityState.FAILED:
        raise errors.InvalidTransition(
            current_state=act.state, target_state=ActivityState.SKIPPED, entity_type=runtime.ACTIVITY
        )
    if act.parent_activity_id is None and act.activity_template.fans_out:
        raise errors.ValidationError(
            "Skip the failed branches of a fan-out, not the fan-out itself.", details={"activity_id": activity_id}
        )
    move(act, target=ActivityState.SKIPPED, actor=actor, reason=reason, arguments={"at": runtime.now(), "reason": reason}, fields=["completed_at", "skip_reason"], event="activity.skipped", inst=inst)  # fmt: skip
    _resolve_incidents(inst, [act], actor=actor, resolution="skipped")
    _resume_if_clear(inst, actor=actor, reason=f"skipped {act.instance_id}: {reason}")
    if parent is not None:
        _reopen_parent(inst, parent, actor=actor)
    plan = Plan()
    runtime.done(inst, act, plan, actor=actor, parent=parent)
    if inst.state == InstanceState.RUNNING:
        _restart_ready(inst, plan, actor=actor)
    plan.commit()
    return act


@service
def instance_cancel(*, tenant, actor, instance_id: int, reason: str = "") -> WorkflowInstance:
    """Cancel an instance: open activities are cancelled, their queued Celery messages revoked
    (a running attempt's late result is then ignored), the runs ``run_work_unit`` steps wait for
    cancelled, open tasks of manual steps cancelled; compensation runs where the template asks."""
    inst = runtime.lock_instance(tenant=tenant, instance_id=instance_id)
    move(inst, target=InstanceState.CANCELLED, actor=actor, reason=reason, arguments={"at": runtime.now()}, fields=["finished_at"], event="instance.cancelled")  # fmt: skip
    task_ids, celery_ids, run_ids = [], [], []
    for act in lock_rows(
        ActivityInstance.objects.all_tenants().filter(
            workflow=inst,
            state__in=[ActivityState.PENDING, ActivityState.SCHEDULED, ActivityState.RUNNING, ActivityState.WAITING],
        )
    ):
        if act.task_id and act.state == ActivityState.WAITING:
            task_ids.append(act.task_id)
        if act.state in (ActivityState.SCHEDULED, ActivityState.RUNNING) and act.celery_task_id:
            celery_ids.append(act.celery_task_id)
        if act.state == ActivityState.RUNNING and act.run_id:
            run_ids.append(act.run_id)
        move(act, target=ActivityState.CANCELLED, actor=actor, reason=reason or "instance cancelled", arguments={"at": runtime.now()}, fields=["completed_at", "attempt_deadline", "dispatch_deadline"], inst=inst)  # fmt: skip
    _resolve_incidents(
        inst, list(ActivityInstance.objects.all_tenants().filter(workflow=inst)), actor=actor, resolution="cancelled"
    )
    child_runs.revoke_on_commit(celery_ids)
    child_runs.cancel_runs_on_commit(tenant_id=inst.tenant_id, run_ids=run_ids, reason="workflow instance cancelled")
    plan = Plan()
    tenant_id = inst.tenant_id
    if task_ids:
        plan.after.append(lambda: _cancel_tasks(tenant_id, task_ids))
    if inst.template.compensate_on_failure:
        plan.after.append(lambda: runtime._queue_compensation(inst.pk))
    plan.commit()
    return inst


def _cancel_tasks(tenant_id: int, task_ids: list[int]) -> None:
    from workflow.services import task_transition

    for task_id in task_ids:
        try:
            task_transition(
                tenant=tenant_id,
                task_id=task_id,
                target_state="cancelled",
                actor=None,
                notes="workflow instance cancelled",
            )
        except errors.ApplicationError:
            pass  # already closed by its assignee


@service
def incidents_retry(
    *, tenant, actor, error_type: str | None = None, message: str | None = None, template_id: int | None = None
) -> list[int]:
    """Resolve by retry every open incident matching the filter (one instance at a time)."""
    qs = Incident.objects.for_tenant(tenant).filter(resolved_at__isnull=True)
    if error_type:
        qs = qs.filter(error_type=error_type)
    if message:
        qs = qs.filter(message=message)
    if template_id:
        qs = qs.filter(workflow__template_id=template_id)
    by_instance: dict[int, list[int]] = {}
    for instance_id, activity_id in qs.values_list("workflow_id", "activity_id"):
        by_instance.setdefault(instance_id, []).append(activity_id)
    retried = []
    for instance_id, activity_ids in sorted(by_instance.items()):
        state = (
            WorkflowInstance.objects.for_tenant(tenant).filter(pk=instance_id).values_list("state", flat=True).first()
        )
        if state == InstanceState.FAILED:
            instance_retry(
                tenant=tenant, actor=actor, instance_id=instance_id, activity_ids=activity_ids, reason="bulk retry"
            )
            retried.append(instance_id)
    return retried


# --- compensation -------------------------------------------------------------------------
@service
def compensation_begin(*, instance_id: int, actor=None) -> list[int]:
    """failed/cancelled → compensating; the completed activities to compensate, newest first."""
    inst = lock_rows(WorkflowInstance.objects.all_tenants().filter(pk=instance_id))
    if not inst or inst[0].state not in (InstanceState.FAILED, InstanceState.CANCELLED):
        return []
    inst = inst[0]
    move(
        inst,
        target=InstanceState.COMPENSATING,
        actor=actor,
        arguments={"at": runtime.now()},
        event="instance.compensating",
    )
    return list(
        ActivityInstance.objects.all_tenants()
        .filter(workflow=inst, state=ActivityState.COMPLETED, compensated_at__isnull=True)
        .exclude(activity_template__compensation_handler="")
        .order_by("-completion_order", "-id")
        .values_list("pk", flat=True)
    )


@service
def compensation_record(*, activity_id: int, error: str = "", actor=None) -> None:
    act = lock_rows(
        ActivityInstance.objects.all_tenants().filter(pk=activity_id).select_related("workflow"), of=("self",)
    )[0]
    act.compensated_at, act.compensation_error = runtime.now(), error[:4000]
    act.save(update_fields=["compensated_at", "compensation_error"])
    emit(
        act.workflow,
        "activity.compensated",
        act=act,
        actor=actor,
        error=error[:500],
        completion_order=act.completion_order,
    )


@service
def compensation_end(*, instance_id: int, actor=None) -> None:
    inst = lock_rows(WorkflowInstance.objects.all_tenants().filter(pk=instance_id))[0]
    if inst.state == InstanceState.COMPENSATING:
        move(
            inst,
            target=InstanceState.COMPENSATED,
            actor=actor,
            arguments={"at": runtime.now()},
            fields=["finished_at"],
            event="instance.compensated",
        )


def instance_compensate(*, instance_id: int) -> list[int]:
    """Run the compensation handlers of completed activities in reverse completion order, each
    outside any transaction and recorded; returns the compensated activity ids in run order."""
    ids = compensation_begin(instance_id=instance_id)
    for activity_id in ids:
        act = ActivityInstance.objects.all_tenants().select_related("activity_template", "workflow").get(pk=activity_id)
        tpl = act.activity_template
        handler = handlers.get(tpl.compensation_handler)
        ctx = ActivityContext(
            tenant_id=act.tenant_id, instance_id=act.workflow_id, activity_id=act.pk, key=tpl.key, name=tpl.name,
            context=dict(act.workflow.context), parameters=dict(tpl.parameters), item=act.item, item_index=act.item_index,
            result=act.result,
        )  # fmt: skip
        error = ""
        try:
            (handler.compensate or handler.execute)(ctx)
        except Exception as exc:  # noqa: BLE001 - recorded on the activity; the others still run
            error = f"{type(exc).__name__}: {exc}"
        compensation_record(activity_id=activity_id, error=error)
    compensation_end(instance_id=instance_id)
    return ids


# --- the beat sweep -----------------------------------------------------------------------
def sweep(*, limit: int = 500) -> dict:
    """Resend scheduled activities whose message was lost (dispatch deadline passed), time out
    attempts past their deadline (worker killed or hung), escalate overdue manual steps. Each
    claim is one set-based statement (``claim_due_rows``) that moves the deadline, so two beats
    never act on the same row twice."""
    from workflow.engine.services.manual import activity_escalate

    at = runtime.now()
    later = at + timedelta(seconds=runtime.DISPATCH_SLACK_SECONDS)
    lost = claim_due_rows(
        ActivityInstance, due=[Due("state = 'scheduled' AND dispatch_deadline < %(now)s", "dispatch_deadline")],
        set_sql="dispatch_deadline = %(later)s", params={"now": at, "later": later}, limit=limit,
        returning=("id", "retry_count", "activity_template"),
    )  # fmt: skip
    if lost:
        from workflow.engine.models import ActivityTemplate

        timeouts = dict(
            ActivityTemplate.objects.filter(pk__in={r[2] for r in lost}).values_list("pk", "timeout_seconds")
        )
        runtime.send_activities([(r[0], r[1] + 1, 0, timeouts[r[2]]) for r in lost])
    expired = claim_due_rows(
        ActivityInstance, due=[Due("state = 'running' AND attempt_deadline < %(now)s", "attempt_deadline")],
        set_sql="attempt_deadline = %(later)s", params={"now": at, "later": later}, limit=limit,
        returning=("id", "retry_count"),
    )  # fmt: skip
    for activity_id, attempt in expired:
        runtime.activity_fail(activity_id=activity_id, attempt=attempt, error_type="ActivityTimeout", error="The attempt passed its deadline (worker lost or hung).")  # fmt: skip
    overdue = claim_due_rows(
        ActivityInstance, due=[Due("state = 'waiting' AND escalated_at IS NULL AND due_at < %(now)s", "due_at")],
        set_sql="escalated_at = %(now)s", params={"now": at}, limit=limit,
    )  # fmt: skip
    for (activity_id,) in overdue:
        activity_escalate(activity_id=activity_id)
    return {
        "redispatched": len(lost),
        "timed_out": len(expired),
        "escalated": len(overdue),
        "at": timezone.now().isoformat(),
    }
