"""ActionPlan use cases: create, activate, archive (each transition locked, recorded, published)."""

from __future__ import annotations

from django.utils import timezone

from activity_feed.services import publish
from ocx.core import errors
from ocx.core.access import Perm, has_perm
from ocx.core.locks import lock_get_or_404
from ocx.core.services import service
from workflow.metrics import TRANSITIONS
from workflow.models import ActionPlan, ActionPlanState, StateTransition
from workflow.services import context as automation_context
from workflow.services.transitions import recorded_transition

ENTITY_LABEL = "ActionPlan"
EVENT_VERBS = {ActionPlanState.ACTIVE: "activated", ActionPlanState.ARCHIVED: "archived"}


def plan_event_data(plan: ActionPlan, **extra) -> dict:
    data = {
        "action_plan_id": plan.pk,
        "title": plan.title,
        "state": plan.state,
        "goals": list(plan.goals or []),
        "created_by": plan.created_by.get_username() if plan.created_by_id else None,
    }
    data.update(extra)
    return automation_context.stamp(data)


@service
def action_plan_create(*, tenant, actor, title: str, description: str = "", goals=None, metadata=None) -> ActionPlan:
    """Create a plan in ``draft`` (CREATE_ACTION_PLAN)."""
    if actor is not None and not has_perm(actor, tenant, Perm.CREATE_ACTION_PLAN):
        raise errors.PermissionDenied(details={"required_permission": Perm.CREATE_ACTION_PLAN})
    goals = [str(goal).strip() for goal in (goals or []) if str(goal).strip()]
    if not (title or "").strip():
        raise errors.ValidationError("An action plan needs a title.", details={"title": "required"})
    plan = ActionPlan.objects.create(
        tenant_id=getattr(tenant, "pk", tenant),
        title=title.strip(),
        description=description or "",
        goals=goals,
        metadata=metadata or {},
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    publish(
        tenant=plan.tenant_id,
        type="workflow.action_plan.created",
        title=f"Action plan created: {plan.title}",
        entity_type="action_plan",
        entity_id=plan.pk,
        payload=plan_event_data(plan, new_state=plan.state, old_state=None),
        actor=actor,
    )
    return plan


@service
def action_plan_transition(
    *, tenant, plan_id: int, target_state: str, actor, context: dict | None = None, notes: str = ""
) -> tuple[ActionPlan, StateTransition]:
    """Activate or archive a plan (ACTIVATE_ACTION_PLAN), along the seed's diagram."""
    if actor is not None and not has_perm(actor, tenant, Perm.ACTIVATE_ACTION_PLAN):
        TRANSITIONS.labels(entity_type="action_plan", result="denied").inc()
        raise errors.PermissionDenied(details={"required_permission": Perm.ACTIVATE_ACTION_PLAN})
    context = context or {}
    plan = lock_get_or_404(
        ActionPlan.objects.for_tenant(tenant).select_related("created_by"),
        "Action plan",
        pk=plan_id,
        of=("self",),
        details={"action_plan_id": plan_id},
    )
    now = timezone.now()

    def publish_event(plan: ActionPlan, edge, source: str):
        verb = EVENT_VERBS[plan.state]
        return publish(
            tenant=plan.tenant_id,
            type=f"workflow.action_plan.{verb}",
            title=f"Action plan {verb}: {plan.title}",
            description=notes or "",
            entity_type="action_plan",
            entity_id=plan.pk,
            payload=plan_event_data(
                plan,
                event_kind="ActionPlanStateChanged",
                old_state=source,
                new_state=plan.state,
                transition=edge.name,
                context=context,
                notes=notes or "",
            ),
            actor=actor,
            timestamp=now,
        )

    record = recorded_transition(
        plan,  # locked above
        entity_type="action_plan",
        entity_label=ENTITY_LABEL,
        actor=actor,
        target_state=target_state,
        notes=notes,
        context=context,
        at=now,
        update_fields=["activated_at", "archived_at", "updated_at"],
        publish=publish_event,
    )
    return plan, record


@service
def action_plan_activate(*, tenant, plan_id: int, actor, notes: str = "") -> tuple[ActionPlan, StateTransition]:
    """draft → active (the plan needs a goal)."""
    return action_plan_transition(
        tenant=tenant, plan_id=plan_id, target_state=ActionPlanState.ACTIVE, actor=actor, notes=notes
    )


@service
def action_plan_archive(*, tenant, plan_id: int, actor, notes: str = "") -> tuple[ActionPlan, StateTransition]:
    """draft or active → archived (terminal)."""
    return action_plan_transition(
        tenant=tenant, plan_id=plan_id, target_state=ActionPlanState.ARCHIVED, actor=actor, notes=notes
    )
