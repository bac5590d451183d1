"""Workflow factories: rows are created through the services (state changes only through them)."""

from __future__ import annotations

from ocx.core.access import Role
from tests.factories import member
from workflow import services
from workflow.models import ActionPlan, Task


def make_task(
    tenant, *, creator=None, assignee=None, task_type="general", priority="medium", title=None, **extra
) -> Task:
    creator = creator or member(tenant, Role.MEMBER)
    return services.task_create(
        tenant=tenant,
        actor=creator,
        title=title or f"{task_type} task",
        task_type=task_type,
        priority=priority,
        assigned_to=assignee,
        **extra,
    )


def move(task: Task, *states: str, actor=None) -> Task:
    """Walk a task through ``states`` as the system actor (or ``actor``)."""
    for state in states:
        task, _ = services.task_transition(tenant=task.tenant_id, task_id=task.pk, target_state=state, actor=actor)
    return task


PATHS = {
    "new": [],
    "in_progress": ["in_progress"],
    "blocked": ["blocked"],
    "completed": ["in_progress", "completed"],
    "cancelled": ["cancelled"],
}


def task_in(tenant, state: str, **kwargs) -> Task:
    return move(make_task(tenant, **kwargs), *PATHS[state])


def make_plan(
    tenant, *, creator=None, goals=("Complete all pending assessments",), title="Q1 Compliance Plan"
) -> ActionPlan:
    creator = creator or member(tenant, Role.ADMIN)
    return services.action_plan_create(tenant=tenant, actor=creator, title=title, goals=list(goals))
