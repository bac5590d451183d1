"""Runs use cases: the only code that writes runs rows. One function per thing a user (or an
agent, or the system) does; each runs in one transaction that also records history, publishes
its event and moves the run counters."""

from runs.services.claims import resolve_topics, runs_claim, runs_claim_wait, runs_settle
from runs.services.composite import (
    CompositeExecutor,
    CompositeUnit,
    composite_run_finished,
    register_composite_executor,
    unregister_composite_executor,
)
from runs.services.execution import (
    Executed,
    run_complete,
    run_execute,
    run_fail,
    run_heartbeat,
    run_start_in_process,
)
from runs.services.runs import run_cancel, run_create
from runs.services.workspaces import (
    member_add,
    member_remove,
    member_update,
    resolve_user,
    work_unit_add,
    work_unit_remove,
    workspace_archive,
    workspace_create,
    workspace_update,
)

__all__ = [
    "CompositeExecutor",
    "CompositeUnit",
    "composite_run_finished",
    "register_composite_executor",
    "unregister_composite_executor",
    "Executed",
    "member_add",
    "member_remove",
    "member_update",
    "resolve_topics",
    "resolve_user",
    "run_cancel",
    "run_complete",
    "run_create",
    "run_execute",
    "run_fail",
    "run_heartbeat",
    "run_start_in_process",
    "runs_claim",
    "runs_claim_wait",
    "runs_settle",
    "work_unit_add",
    "work_unit_remove",
    "workspace_archive",
    "workspace_create",
    "workspace_update",
]
