"""/metadata is derived from the models' state machines (no second copy)."""

import pytest

from ocx.core import fsm
from workflow.models import Task

pytestmark = pytest.mark.django_db


def test_task_metadata_matches_seed_diagram(anon_api):
    task = anon_api.get("/api/v1/workflow/metadata").json()["state_machines"]["task"]
    assert task["initial_state"] == "new"
    assert task["terminal_states"] == ["completed", "cancelled"]
    assert task["allowed_transitions"] == {
        "new": ["in_progress", "blocked", "cancelled"],
        "in_progress": ["blocked", "completed", "cancelled"],
        "blocked": ["in_progress", "cancelled"],
        "completed": [],
        "cancelled": [],
    }
    labels = {(t["from"], t["to"]): t["label"] for t in task["transitions"]}
    assert labels[("new", "in_progress")] == "Start work"
    assert labels[("blocked", "cancelled")] == "Cannot resolve"
    assert {r["name"] for r in task["business_rules"]} == {"plan_not_archived"}


def test_action_plan_metadata(anon_api):
    plan = anon_api.get("/api/v1/workflow/metadata").json()["state_machines"]["action_plan"]
    assert plan["allowed_transitions"] == {"draft": ["active", "archived"], "active": ["archived"], "archived": []}
    assert plan["business_rules"][0]["name"] == "plan_has_goals"


def test_metadata_follows_the_model(monkeypatch, anon_api):
    # A transition added on the model shows up without touching the API.
    extra = fsm.Edge(name="reopen", source="completed", target="new", label="Reopen", conditions=())
    original = fsm.edges
    monkeypatch.setattr(fsm, "edges", lambda model: (*original(model), extra) if model is Task else original(model))
    task = anon_api.get("/api/v1/workflow/metadata").json()["state_machines"]["task"]
    assert task["allowed_transitions"]["completed"] == ["new"]
