"""Task use cases: create and transition (with SLA clock and domain event, one transaction)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from activity_feed.services import publish
from ocx.core import errors
from ocx.core.access import Perm, has_perm, is_tenant_admin
from ocx.core.locks import lock_get_or_404
from ocx.core.models import Membership
from ocx.core.services import service
from workflow.metrics import TRANSITIONS
from workflow.models import ActionPlan, ActionPlanState, StateTransition, Task, TaskPriority
from workflow.services import context as automation_context
from workflow.services import sla
from workflow.services.transitions import recorded_transition

ENTITY_LABEL = "Task"  # the seed's error body names the entity type this way


def _user_payload(user) -> str | None:
    return user.get_username() if user is not None else None


def resolve_member(*, tenant, username: str | None):
    """The user called ``username`` if they belong to ``tenant`` (None for an empty name)."""
    if not username:
        return None
    user = get_user_model().objects.filter(username=username).first()
    if user is None or not (
        user.is_superuser or Membership.objects.filter(user=user, tenant_id=getattr(tenant, "pk", tenant)).exists()
    ):
        raise errors.ValidationError(
            f"User '{username}' is not a member of this tenant.", details={"assigned_to": username}
        )
    return user


def task_event_data(task: Task, **extra: Any) -> dict[str, Any]:
    """What a task event carries (and what trigger predicates see)."""
    data = {
        "task_id": task.pk,
        "title": task.title,
        "task_type": task.task_type,
        "service_area": task.service_area,
        "priority": task.priority,
        "state": task.state,
        "assigned_to": _user_payload(task.assigned_to),
        "created_by": _user_payload(task.created_by),
        "action_plan_id": task.action_plan_id,
        "due_date": task.due_date.isoformat() if task.due_date else None,
    }
    data.update(extra)
    return automation_context.stamp(data)


def can_transition_task(user, task: Task) -> bool:
    """The seed's rule: creator or assignee (with UPDATE_TASK), or a tenant admin."""
    if user is None:
        return True  # the system (automation) acts on behalf of the tenant
    if not has_perm(user, task, Perm.UPDATE_TASK):
        return False
    if is_tenant_admin(user, task):
        return True
    return user.pk in (task.created_by_id, task.assigned_to_id)


@service
def task_create(
    *,
    tenant,
    actor,
    title: str,
    description: str = "",
    task_type: str = "general",
    service_area: str = "",
    priority: str = TaskPriority.MEDIUM,
    assigned_to=None,
    action_plan_id: int | None = None,
    due_date: datetime | None = None,
    metadata: dict | None = None,
) -> Task:
    """Create a task in ``new``; its SLA clock starts now. Needs CREATE_TASK (the system may always)."""
    if actor is not None and not has_perm(actor, tenant, Perm.CREATE_TASK):
        raise errors.PermissionDenied(details={"required_permission": Perm.CREATE_TASK})
    if priority not in TaskPriority.values:
        raise errors.ValidationError(f"Unknown priority '{priority}'.", details={"priority": TaskPriority.values})
    if not (title or "").strip():
        raise errors.ValidationError("A task needs a title.", details={"title": "required"})
    plan = None
    if action_plan_id is not None:
        plan = ActionPlan.objects.for_tenant(tenant).filter(pk=action_plan_id).first()
        if plan is None:
            raise errors.ValidationError("Unknown action plan.", details={"action_plan_id": action_plan_id})
        if plan.state == ActionPlanState.ARCHIVED:
            raise errors.ValidationError(
                "Tasks cannot be added to an archived action plan.", details={"action_plan_id": action_plan_id}
            )
    task = Task.objects.create(
        tenant_id=getattr(tenant, "pk", tenant),
        title=title.strip(),
        description=description or "",
        task_type=task_type or "general",
        service_area=service_area or "",
        priority=priority,
        created_by=actor if getattr(actor, "pk", None) else None,
        assigned_to=assigned_to,
        action_plan=plan,
        due_date=due_date,
        metadata=metadata or {},
    )
    record = sla.sla_start(task=task, at=task.created_at)
    publish(
        tenant=task.tenant_id,
        type="workflow.task.created",
        title=f"Task created: {task.title}",
        entity_type="task",
        entity_id=task.pk,
        payload=task_event_data(
            task, new_state=task.state, old_state=None, sla_due_at=record.due_at.isoformat() if record else None
        ),
        actor=actor,
        priority="high" if task.priority in (TaskPriority.HIGH, TaskPriority.CRITICAL) else "normal",
    )
    return task


def _lock_task(*, tenant, task_id) -> Task:
    # The SLA row rides along unlocked (for the response); the clock locks it when it moves.
    queryset = Task.objects.for_tenant(tenant).select_related("created_by", "assigned_to", "sla")
    return lock_get_or_404(queryset, "Task", pk=task_id, of=("self",), details={"task_id": task_id})


@service
def task_transition(
    *,
    tenant,
    task_id: int,
    target_state: str,
    actor,
    context: dict | None = None,
    notes: str = "",
) -> tuple[Task, StateTransition]:
    """Move a task along the seed's diagram. The row is locked, so of two concurrent requests
    exactly one moves it; the other then finds the new state and gets INVALID_TRANSITION."""
    context = context or {}
    if not isinstance(context, dict):
        raise errors.ValidationError("context must be a JSON object.", details={"context": "object expected"})
    task = _lock_task(tenant=tenant, task_id=task_id)
    if not can_transition_task(actor, task):
        TRANSITIONS.labels(entity_type="task", result="denied").inc()
        raise errors.PermissionDenied(
            details={"reason": "Only the task's creator, its assignee or a tenant admin may transition it."}
        )
    now = timezone.now()

    def publish_event(task: Task, edge, source: str):
        # The clock moves with the task, before the event that reports its status.
        sla_record = sla.sla_on_transition(task=task, source=source, target=task.state, at=now, actor=actor)
        if sla_record is not None:
            task.sla = sla_record  # the API answers with this object: no re-read
        return publish(
            tenant=task.tenant_id,
            type=f"workflow.task.{task.state}",
            title=f"Task {edge.label.lower()}: {task.title}",
            description=notes or "",
            entity_type="task",
            entity_id=task.pk,
            payload=task_event_data(
                task,
                event_kind="TaskStateChanged",
                old_state=source,
                new_state=task.state,
                transition=edge.name,
                context=context,
                notes=notes or "",
                sla_status=sla_record.status if sla_record else None,
            ),
            actor=actor,
            timestamp=now,
        )

    record = recorded_transition(
        task,  # locked above
        entity_type="task",
        entity_label=ENTITY_LABEL,
        actor=actor,
        target_state=target_state,
        notes=notes,
        context=context,
        at=now,
        update_fields=["started_at", "completed_at", "updated_at"],
        publish=publish_event,
    )
    return task, record
