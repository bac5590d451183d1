"""The state-machine toolkit every app uses (registry, workflow, runs, the engine …).

The machines themselves are the django-fsm-2 ``@transition`` methods declared on the models (the
single source of truth): ``edges(Model)`` lists them, ``describe`` renders them as data
(``/metadata``), the admin mixin (``ocx.core.admin_fsm``) draws its buttons from them, and
``fsm_transition`` is the one helper a service calls to move a row:

    lock → guard → transition → save(update_fields=…) → history (actor, reason) → publish → record

A transition's ``custom`` dict may carry ``label`` (what a person reads), and for the admin
``form`` / ``service`` / ``slug`` / ``id_kwarg`` / ``target_kwarg`` (see ``ocx.core.admin_fsm``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from typing import Any

from django_fsm import FSMFieldMixin, can_proceed

from ocx.core import errors


@dataclass(frozen=True)
class Edge:
    name: str  # the model method
    source: str
    target: str
    label: str
    conditions: tuple  # guard callables
    custom: tuple = ()  # the transition's ``custom`` items, frozen

    @property
    def options(self) -> dict[str, Any]:
        return dict(self.custom)


def state_field(model):
    """The model's FSM field (each governed model has exactly one)."""
    fields = [f for f in model._meta.concrete_fields if isinstance(f, FSMFieldMixin)]
    if len(fields) != 1:
        raise TypeError(f"{model.__name__} must declare exactly one FSM field, found {len(fields)}")
    return fields[0]


def state_of(instance) -> str:
    return getattr(instance, state_field(type(instance)).attname)


@cache
def edges(model) -> tuple[Edge, ...]:
    """Every declared transition of ``model``, in the order of the field's choices."""
    field = state_field(model)
    found = [
        Edge(
            name=t.name,
            source=str(t.source),
            target=str(t.target),
            label=t.custom.get("label", t.name),
            conditions=tuple(t.conditions),
            custom=tuple(sorted(t.custom.items())),
        )
        for t in field.get_all_transitions(model)
        if t.source not in ("*", "+") and t.target is not None
    ]
    order = [value for value, _ in field.choices]
    return tuple(sorted(found, key=lambda e: (order.index(e.source), order.index(e.target), e.name)))


def edge_for(model, *, source: str, target: str | None = None, name: str | None = None) -> Edge | None:
    return next(
        (
            e
            for e in edges(model)
            if e.source == source and (target is None or e.target == target) and (name is None or e.name == name)
        ),
        None,
    )


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


def resolve(instance, *, entity_type: str, target: str | None = None, name: str | None = None):
    """The declared edge that moves ``instance`` (to ``target``, or by transition ``name``) and
    its bound method, or INVALID_TRANSITION naming the current and target state and the guards
    that failed."""
    if (target is None) == (name is None):
        raise TypeError("resolve() takes exactly one of target= or name=")
    source = state_of(instance)
    edge = edge_for(type(instance), source=source, target=target, name=name)
    if edge is None:
        wanted = target or next((e.target for e in edges(type(instance)) if e.name == name), name)
        raise errors.InvalidTransition(current_state=source, target_state=wanted, entity_type=entity_type)
    method = getattr(instance, edge.name)
    if not can_proceed(method):
        failed = failed_conditions(instance, edge)
        raise errors.InvalidTransition(
            current_state=source,
            target_state=edge.target,
            entity_type=entity_type,
            message=f"Transition from {source} to {edge.target} not allowed: "
            + "; ".join(rule_text(c) for c in failed),
            failed_guards=[c.__name__ for c in failed],
        )
    return edge, method


@dataclass
class Transitioned:
    """What ``fsm_transition`` did: the saved row, the edge taken, and what it published/recorded."""

    instance: Any
    edge: Edge
    source: str
    event: Any = None
    record: Any = None

    @property
    def target(self) -> str:
        return self.edge.target


def fsm_transition(
    instance,
    *,
    entity_type: str,
    actor,
    target: str | None = None,
    name: str | None = None,
    reason: str = "",
    update_fields: Iterable[str] = (),
    lock: bool = True,
    publish: Callable[[Any, Edge, str], Any] | None = None,
    record: Callable[[Any, Edge, str, Any], Any] | None = None,
    arguments: dict[str, Any] | None = None,
) -> Transitioned:
    """Move ``instance`` along one declared transition, inside the caller's transaction.

    ``lock``: re-read the row ``SELECT … FOR UPDATE`` first (pass False when the service already
    holds the lock through ``ocx.core.locks``) so the guard sees the committed state. The method
    runs with ``arguments``; the row is saved with the state field plus ``update_fields``; the
    history row names ``actor`` and ``reason``; ``publish(instance, edge, source)`` writes the
    event and ``record(instance, edge, source, event)`` any transition record. Illegal →
    INVALID_TRANSITION and nothing is written.
    """
    from django.db import transaction

    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("fsm_transition runs inside the service's transaction")
    if lock:
        from ocx.core.locks import lock_rows

        locked = lock_rows(type(instance)._base_manager.filter(pk=instance.pk))
        if not locked:
            raise errors.NotFound(f"{type(instance).__name__} not found.", details={"id": str(instance.pk)})
        field = state_field(type(instance))
        # The FSM field is protected: copy the locked state through __dict__, not setattr.
        instance.__dict__[field.attname] = getattr(locked[0], field.attname)
    source = state_of(instance)
    edge, method = resolve(instance, entity_type=entity_type, target=target, name=name)
    method(**(arguments or {}))
    if getattr(actor, "pk", None) is not None:
        instance._history_user = actor
    instance._change_reason = reason or None
    field_name = state_field(type(instance)).name
    instance.save(update_fields=list(dict.fromkeys([field_name, *update_fields])))
    event = publish(instance, edge, source) if publish is not None else None
    recorded = record(instance, edge, source, event) if record is not None else None
    return Transitioned(instance=instance, edge=edge, source=source, event=event, record=recorded)


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
