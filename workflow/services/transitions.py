"""What every task and action-plan move writes besides the row: its ``StateTransition`` record,
and the transition metric."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.db import transaction

from ocx.core import errors
from ocx.core.fsm import fsm_transition
from workflow.metrics import TRANSITIONS
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


def recorded_transition(
    instance,
    *,
    entity_type: str,
    entity_label: str,
    actor,
    target_state: str,
    notes: str,
    context: dict,
    at,
    update_fields: Sequence[str],
    publish: Callable,
) -> StateTransition:
    """Move ``instance`` (already locked by the caller) to ``target_state`` through
    ``fsm_transition``: published by ``publish``, recorded as a ``StateTransition``, counted in
    ``TRANSITIONS`` (``invalid`` at once, ``ok`` on commit). Returns the record."""
    try:
        done = fsm_transition(
            instance,
            entity_type=entity_label,
            actor=actor,
            target=target_state,
            reason=notes,
            arguments={"at": at},
            update_fields=list(update_fields),
            lock=False,
            publish=publish,
            record=transition_recorder(entity_type=entity_type, actor=actor, context=context, notes=notes),
        )
    except errors.InvalidTransition:
        TRANSITIONS.labels(entity_type=entity_type, result="invalid").inc()
        raise
    transaction.on_commit(lambda: TRANSITIONS.labels(entity_type=entity_type, result="ok").inc())
    return done.record
