"""What every task and action-plan move writes besides the row: its ``StateTransition`` record."""

from __future__ import annotations

from collections.abc import Callable

from workflow.models import StateTransition


def transition_recorder(*, entity_type: str, actor, context: dict, notes: str) -> Callable[..., StateTransition]:
    """The ``record=`` callback of ``ocx.core.fsm.fsm_transition``: who moved which row, from
    where to where, why, and the event published for it."""

    def record(instance, edge, source: str, event) -> StateTransition:
        return StateTransition.objects.create(
            tenant_id=instance.tenant_id,
            entity_type=entity_type,
            entity_id=instance.pk,
            transition=edge.name,
            from_state=source,
            to_state=edge.target,
            actor=actor if getattr(actor, "pk", None) else None,
            context=context,
            notes=notes or "",
            event_id=event.pk,
        )

    return record
