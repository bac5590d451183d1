"""The run state machine: the seed's lifecycle plus re-offer and schedule-to-start timeout, one
declared graph (what services, the admin and /runs/metadata read)."""

import pytest

from ocx.core import fsm
from runs.models import Run

pytestmark = pytest.mark.django_db


def test_the_lifecycle_is_the_seeds_plus_re_offer_and_timeout():
    graph = fsm.describe(Run, entity_type="run")

    assert graph["initial_state"] == "pending"
    assert sorted(graph["terminal_states"]) == ["cancelled", "completed", "failed"]
    assert graph["allowed_transitions"] == {
        "pending": ["running", "failed", "cancelled"],
        "running": ["pending", "completed", "failed", "cancelled"],
        "completed": [], "failed": [], "cancelled": [],
    }  # fmt: skip


def test_an_illegal_transition_is_refused_naming_both_states(world, vendor_check, runner):
    from django.db import transaction

    from ocx.core import errors
    from tests.runs.factories import RunFactory

    run = RunFactory(tenant=world.tenant, actor=runner)
    with transaction.atomic(), pytest.raises(errors.InvalidTransition) as refused:
        fsm.fsm_transition(
            run, entity_type="run", actor=runner, target="completed", arguments={"at": None, "output": None}
        )
    assert refused.value.details == {"current_state": "pending", "target_state": "completed", "entity_type": "run"}


def test_metadata_endpoint_describes_the_machine(world, api_client_for):
    body = api_client_for(world.viewer).get("/api/v1/runs/metadata").json()

    assert body["run"]["entity_type"] == "run" and "runs.run.completed" in body["event_types"]
    assert body["workspace_roles"] == ["owner", "admin", "member", "viewer"]
