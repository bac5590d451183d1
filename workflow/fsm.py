"""Introspection of the state machines declared on the models (the single source of truth).

``edges(Task)`` lists every declared transition; the service maps a requested ``target_state``
to the transition method through it, ``/metadata`` renders it, the admin draws buttons from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from workflow.models import ActionPlan, Task

ENTITY_TYPES = {"task": Task, "action_plan": ActionPlan}


@dataclass(frozen=True)
class Edge:
    name: str  # the model method
    source: str
    target: str
    label: str
    conditions: tuple  # guard callables


def state_field(model):
    return model._meta.get_field("state")


@cache
def edges(model) -> tuple[Edge, ...]:
    field = state_field(model)
    found = []
    for t in field.get_all_transitions(model):
        found.append(
            Edge(
                name=t.name,
                source=str(t.source),
                target=str(t.target),
                label=t.custom.get("label", t.name),
                conditions=tuple(t.conditions),
            )
        )
    order = [value for value, _ in field.choices]
    return tuple(sorted(found, key=lambda e: (order.index(e.source), order.index(e.target))))


def edge_for(model, *, source: str, target: str) -> Edge | None:
    return next((e for e in edges(model) if e.source == source and e.target == target), None)


def states(model) -> list[str]:
    return [value for value, _ in state_field(model).choices]


def terminal_states(model) -> list[str]:
    sources = {e.source for e in edges(model)}
    return [s for s in states(model) if s not in sources]


def allowed_targets(model, state: str) -> list[str]:
    return [e.target for e in edges(model) if e.source == state]


def rule_text(condition) -> str:
    return (condition.__doc__ or condition.__name__).strip()


def failed_conditions(instance, edge: Edge) -> list:
    return [c for c in edge.conditions if not c(instance)]


def transition_method(instance, *, target: str, entity_type: str, metric_label: str):
    """The bound ``@transition`` method that moves ``instance`` to ``target``, or
    INVALID_TRANSITION (the seed's body: current and target state, entity type; plus the guards
    that failed). Shared by every workflow service that moves an entity."""
    from django_fsm import can_proceed

    from ocx.core import errors
    from workflow.metrics import TRANSITIONS

    source = getattr(instance, state_field(type(instance)).attname)
    edge = edge_for(type(instance), source=source, target=target)
    if edge is None:
        TRANSITIONS.labels(entity_type=metric_label, result="invalid").inc()
        raise errors.InvalidTransition(current_state=source, target_state=target, entity_type=entity_type)
    method = getattr(instance, edge.name)
    if not can_proceed(method):
        TRANSITIONS.labels(entity_type=metric_label, result="invalid").inc()
        failed = failed_conditions(instance, edge)
        raise errors.InvalidTransition(
            current_state=source,
            target_state=target,
            entity_type=entity_type,
            message=f"Transition from {source} to {target} not allowed: " + "; ".join(rule_text(c) for c in failed),
            failed_guards=[c.__name__ for c in failed],
        )
    return edge, method


def describe(model, *, entity_type: str) -> dict:
    """The state machine as data: what ``/metadata`` returns for one entity type."""
    field = state_field(model)
    all_edges = edges(model)
    rules: dict[str, dict] = {}
    for e in all_edges:
        for c in e.conditions:
            rule = rules.setdefault(c.__name__, {"name": c.__name__, "description": rule_text(c), "applies_to": []})
            rule["applies_to"].append({"transition": e.name, "from": e.source, "to": e.target})
    return {
        "entity_type": entity_type,
        "initial_state": str(field.default),
        "states": [
            {"value": v, "label": str(lbl), "terminal": v in terminal_states(model)} for v, lbl in field.choices
        ],
        "terminal_states": terminal_states(model),
        "transitions": [
            {
                "name": e.name,
                "from": e.source,
                "to": e.target,
                "label": e.label,
                "guards": [c.__name__ for c in e.conditions],
            }
            for e in all_edges
        ],
        "allowed_transitions": {s: allowed_targets(model, s) for s in states(model)},
        "business_rules": list(rules.values()),
    }
