"""Manual activities: a Task (seed 003's machine) per waiting activity, completed by a person.

The signal back to the engine is the task's ``workflow.task.completed`` event, consumed by an
outbox handler (``on_event``, registered in ``WorkflowConfig.ready``) rather than a call inside
``task_transition``: the task service stays ignorant of the engine, the hook is at-least-once
(the outbox) and idempotent (the activity must still be ``waiting``), and it is the same path
the automation triggers take. ``POST …/activities/{id}/complete`` is the other way in; it closes
the task after commit.
"""

from __future__ import annotations

import logging

from django.db import transaction

from ocx.core import errors
from ocx.core.locks import lock_rows
from ocx.core.services import service
from workflow.engine.models import ActivityInstance, ActivityState, InstanceState
from workflow.engine.services import runtime

logger = logging.getLogger(__name__)


def task_type_for(tpl) -> str:
    text = f"{tpl.name} {tpl.key}".lower()
    if "approv" in text:
        return "approval"
    if "review" in text:
        return "review"
    return "manual"


def open_task(inst, act) -> None:
    """Create the activity's Task (assignee from ``parameters.assignee`` / ``assignee_role``)."""
    from workflow.services import task_create
    from workflow.services.tasks import resolve_member

    tpl = act.activity_template
    params = tpl.parameters or {}
    assignee = None
    if params.get("assignee"):
        try:
            assignee = resolve_member(tenant=inst.tenant_id, username=params["assignee"])
        except errors.ValidationError:
            logger.warning("assignee %s of %s is not a member; task left unassigned", params["assignee"], tpl.key)
    suffix = f" — {act.item}" if act.item is not None else ""
    task = task_create(
        tenant=inst.tenant_id,
        actor=None,
        title=f"{tpl.name}{suffix}"[:300],
        description=f"Workflow instance {inst.pk} ({inst.template.name} v{inst.template.version}), activity {act.instance_id}.",
        task_type=task_type_for(tpl),
        service_area="workflow",
        priority=params.get("priority", "medium"),
        assigned_to=assignee,
        due_date=act.due_at,
        metadata={
            "workflow_instance_id": inst.pk,
            "engine_activity_id": act.pk,
            "assignee_role": params.get("assignee_role", ""),
        },
    )
    act.task_id = task.pk
    act.save(update_fields=["task_id"])


@service
def activity_complete_manual(
    *, tenant, actor, instance_id: int, activity_id: int, result: dict | None = None, from_task: bool = False
) -> ActivityInstance:
    """A person finished a manual activity: its result is merged into the context and the
    instance moves on. Twice → CONFLICT (the task hook: ignored)."""
    if result is not None and not isinstance(result, dict):
        raise errors.ValidationError("result must be a JSON object.", details={"result": "object expected"})
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
    if act.state != ActivityState.WAITING or inst.state != InstanceState.RUNNING:
        if from_task:
            return act
        raise errors.Conflict(
            f"Activity {act.instance_id} is {act.state}, not waiting for a person.",
            details={"activity_state": act.state, "instance_state": inst.state},
        )
    plan = runtime.Plan()
    output = dict(result or {})
    if act.parent_activity_id is None:
        runtime.complete(inst, act, plan, result=output, actor=actor)
    else:
        runtime.complete(inst, act, plan, result=output, actor=actor, parent=parent)
    plan.commit()
    if not from_task and act.task_id:
        task_id, tenant_id = act.task_id, inst.tenant_id
        transaction.on_commit(lambda: _close_task(tenant_id=tenant_id, task_id=task_id, actor=actor))
    return act


def _close_task(*, tenant_id: int, task_id: int, actor) -> None:
    from workflow.selectors import task_get
    from workflow.services import task_transition

    try:
        task = task_get(tenant=tenant_id, task_id=task_id)
        if task.state == "new":
            task_transition(
                tenant=tenant_id,
                task_id=task_id,
                target_state="in_progress",
                actor=None,
                notes="workflow activity completed",
            )
        if task.state in ("new", "in_progress", "blocked"):
            if task.state == "blocked":
                task_transition(
                    tenant=tenant_id,
                    task_id=task_id,
                    target_state="in_progress",
                    actor=None,
                    notes="workflow activity completed",
                )
            task_transition(
                tenant=tenant_id,
                task_id=task_id,
                target_state="completed",
                actor=None,
                notes="workflow activity completed",
            )
    except errors.ApplicationError:
        logger.warning("could not close task %s of a completed workflow activity", task_id, exc_info=True)


def on_event(event) -> None:
    """Outbox handler: a completed task of a waiting manual activity completes the activity."""
    if event.type != "workflow.task.completed" or event.entity_type != "task":
        return
    row = (
        ActivityInstance.objects.all_tenants()
        .filter(task_id=int(event.entity_id), tenant_id=event.tenant_id, state=ActivityState.WAITING)
        .values("pk", "workflow_id")
        .first()
    )
    if row is None:
        return
    context = (event.event_metadata or {}).get("context") or {}
    activity_complete_manual(
        tenant=event.tenant_id, actor=None, instance_id=row["workflow_id"], activity_id=row["pk"],
        result=context if isinstance(context, dict) else {}, from_task=True,
    )  # fmt: skip


@service
def activity_escalate(*, activity_id: int, actor=None) -> bool:
    """An overdue manual activity: escalation event and an alert (not retried)."""
    from activity_feed.services import publish

    inst, _parent, act = runtime._lock_instance_and_activity(activity_id)
    if act is None or act.state != ActivityState.WAITING:
        return False
    runtime.emit(inst, "activity.escalated", act=act, actor=actor, task_id=act.task_id, due_at=act.due_at.isoformat() if act.due_at else None)  # fmt: skip
    publish(
        tenant=inst.tenant_id,
        type="workflow.alert.raised",
        title=f"Overdue workflow step: {act.activity_template.name}",
        entity_type="workflow_activity",
        entity_id=act.pk,
        payload={
            "alert_type": "workflow_activity_overdue",
            "instance_id": inst.pk,
            "activity_id": act.pk,
            "task_id": act.task_id,
        },
        priority="high",
        idempotency_key=f"workflow:engine:escalated:{act.pk}:{act.due_at.isoformat() if act.due_at else ''}",
    )
    return True
