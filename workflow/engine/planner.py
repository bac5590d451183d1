"""The pure part of the engine: validate a template's graph, compute its effective graph, and
decide what runs next. No database, no Celery, no clock: plain data in, plain data out.

The effective graph of a template is:

- every explicit ``depends_on`` edge;
- in a *sequential* phase, each activity after the previous one (by position);
- phase barriers: an activity with no predecessor inside its phase waits for every *sink* of the
  previous phase (an activity no other activity of that phase waits for), so a phase starts
  when the one before it is done, with few edges (the sinks, not the whole phase).

It is computed once at publish and stored (``upstream_count`` / ``dependents``), so deciding
what runs after one activity finishes costs time proportional to that activity's dependents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

RETRY_DEFAULTS = {
    "initial_interval": 1.0,
    "backoff_coefficient": 2.0,
    "maximum_interval": 100.0,
    "maximum_attempts": 3,
    "non_retryable_error_types": [],
}
MAX_ATTEMPTS_LIMIT = 100
MAX_INTERVAL_LIMIT = 7 * 24 * 3600


@dataclass
class Node:
    key: str
    phase_order: int
    phase_mode: str
    position: int
    depends_on: list[str] = field(default_factory=list)


class GraphError(ValueError):
    def __init__(self, message: str, *, activity: str | None = None, field_name: str = ""):
        super().__init__(message)
        self.activity, self.field_name = activity, field_name


def check_dependencies(nodes: list[Node]) -> None:
    """Unknown keys, dependencies on later phases, self-dependencies and cycles (named)."""
    by_key = {n.key: n for n in nodes}
    for n in nodes:
        for dep in n.depends_on:
            if dep not in by_key:
                raise GraphError(
                    f"Activity '{n.key}' depends on unknown activity '{dep}'.", activity=n.key, field_name="depends_on"
                )
            if dep == n.key:
                raise GraphError(f"Activity '{n.key}' depends on itself.", activity=n.key, field_name="depends_on")
            if by_key[dep].phase_order > n.phase_order:
                raise GraphError(
                    f"Activity '{n.key}' depends on '{dep}' of a later phase.", activity=n.key, field_name="depends_on"
                )
    # cycles among explicit edges (implicit edges only point forward, so they cannot close one)
    white, grey, black = 0, 1, 2
    color = {n.key: white for n in nodes}

    def visit(key: str, path: list[str]) -> None:
        color[key] = grey
        for dep in by_key[key].depends_on:
            if color[dep] == grey:
                cycle = path[path.index(dep) :] + [dep] if dep in path else [key, dep]
                raise GraphError(
                    f"Dependency cycle: {' → '.join(cycle)} (activity '{key}').", activity=key, field_name="depends_on"
                )
            if color[dep] == white:
                visit(dep, path + [dep])
        color[key] = black

    for n in nodes:
        if color[n.key] == white:
            visit(n.key, [n.key])


def effective_graph(nodes: list[Node]) -> dict[str, set[str]]:
    """``{key: set of upstream keys}`` (see the module docstring)."""
    check_dependencies(nodes)
    phases: dict[int, list[Node]] = {}
    for n in sorted(nodes, key=lambda n: (n.phase_order, n.position)):
        phases.setdefault(n.phase_order, []).append(n)
    upstream: dict[str, set[str]] = {n.key: set(n.depends_on) for n in nodes}
    previous_sinks: list[str] = []
    for order in sorted(phases):
        members = phases[order]
        keys = {m.key for m in members}
        if members and members[0].phase_mode == "sequential":
            for before, after in zip(members, members[1:], strict=False):
                upstream[after.key].add(before.key)
        for m in members:
            if not (upstream[m.key] & keys):
                upstream[m.key] |= set(previous_sinks)
        waited_for = {dep for m in members for dep in upstream[m.key] if dep in keys}
        previous_sinks = [m.key for m in members if m.key not in waited_for]
    return upstream


def dependents_of(upstream: dict[str, set[str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {key: [] for key in upstream}
    for key, deps in upstream.items():
        for dep in deps:
            out[dep].append(key)
    return {k: sorted(v) for k, v in out.items()}


def check_retry_policy(policy: Any) -> dict:
    """The policy with defaults filled in, or ValueError naming the field out of range."""
    if policy in (None, ""):
        policy = {}
    if not isinstance(policy, dict):
        raise ValueError("retry_policy must be an object.")
    unknown = set(policy) - set(RETRY_DEFAULTS)
    if unknown:
        raise ValueError(f"retry_policy has unknown fields: {', '.join(sorted(unknown))}.")
    merged = {**RETRY_DEFAULTS, **policy}
    numbers = ("initial_interval", "backoff_coefficient", "maximum_interval")
    for name in numbers:
        if isinstance(merged[name], bool) or not isinstance(merged[name], int | float):
            raise ValueError(f"retry_policy.{name} must be a number.")
    if not 0 < merged["initial_interval"] <= MAX_INTERVAL_LIMIT:
        raise ValueError(f"retry_policy.initial_interval must be in (0, {MAX_INTERVAL_LIMIT}] seconds.")
    if not 1 <= merged["backoff_coefficient"] <= 100:
        raise ValueError("retry_policy.backoff_coefficient must be in [1, 100].")
    if not merged["initial_interval"] <= merged["maximum_interval"] <= MAX_INTERVAL_LIMIT:
        raise ValueError("retry_policy.maximum_interval must be at least initial_interval and at most a week.")
    attempts = merged["maximum_attempts"]
    if isinstance(attempts, bool) or not isinstance(attempts, int) or not 0 <= attempts <= MAX_ATTEMPTS_LIMIT:
        raise ValueError(
            f"retry_policy.maximum_attempts must be a whole number in [0, {MAX_ATTEMPTS_LIMIT}] (0: unlimited)."
        )
    types = merged["non_retryable_error_types"]
    if not isinstance(types, list) or not all(isinstance(t, str) and t for t in types):
        raise ValueError("retry_policy.non_retryable_error_types must be a list of error type names.")
    return merged


def backoff_seconds(policy: dict, *, failed_attempts: int) -> float:
    """Temporal's schedule: initial × coefficient^(n-1), capped at maximum_interval."""
    p = {**RETRY_DEFAULTS, **(policy or {})}
    delay = p["initial_interval"] * p["backoff_coefficient"] ** max(failed_attempts - 1, 0)
    return float(min(delay, p["maximum_interval"]))


@dataclass(frozen=True)
class FailureDecision:
    retry: bool
    countdown: float = 0.0
    reason: str = ""


def decide_failure(
    policy: dict, *, error_type: str, attempts: int, manual: bool, elapsed: float, total_timeout: float | None
) -> FailureDecision:
    """After attempt ``attempts`` failed with ``error_type``: retry (after what countdown), or not."""
    p = {**RETRY_DEFAULTS, **(policy or {})}
    if manual:
        return FailureDecision(False, reason="manual activities are not retried automatically")
    if error_type in p["non_retryable_error_types"]:
        return FailureDecision(False, reason=f"{error_type} is non-retryable")
    if p["maximum_attempts"] and attempts >= p["maximum_attempts"]:
        return FailureDecision(False, reason=f"maximum_attempts ({p['maximum_attempts']}) reached")
    countdown = backoff_seconds(p, failed_attempts=attempts)
    if total_timeout is not None and elapsed + countdown >= total_timeout:
        return FailureDecision(False, reason=f"total timeout ({int(total_timeout)} s) reached")
    return FailureDecision(True, countdown=countdown)


def children_to_dispatch(*, pending: int, active: int, max_concurrency: int | None) -> int:
    """How many pending children of a fan-out may start now."""
    if not max_concurrency:
        return pending
    return max(0, min(pending, max_concurrency - active))


def manual_due_hours(name: str, key: str) -> int:
    """The seed's table: approvals 48 h, reviews 24 h, other manual tasks 24 h."""
    text = f"{name} {key}".lower()
    if "approv" in text:
        return 48
    return 24


def automated_timeout_seconds(handler_name: str, name: str) -> int:
    """The seed's table: generate/execute 15–30 min (30 for execute), START/COMPLETE 1 min,
    default 5 min."""
    text = f"{handler_name} {name}".lower()
    if handler_name == "AutomatedActivityHandler":
        return 60
    if "execute" in text:
        return 30 * 60
    if "generate" in text:
        return 15 * 60
    return 5 * 60
