"""The hot paths' statements, pinned (issue 12, Performance): creating a run and a 50-run claim
run a fixed number of statements, whatever the batch size — no per-run query, no re-reading of
what was just written. A change that adds one fails here; update the count only on purpose.

Counted inside the service (the request adds the token / membership lookup of ocx.core). The
``SAVEPOINT`` / ``RELEASE`` pair is the service's ``transaction.atomic`` nested in the test's
transaction (a request opens a transaction instead)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from runs import services
from runs.models import Run, RunStatus
from runs.serializers import ClaimedRunSerializer, claimed_run_data
from tests.runs.factories import RunFactory, claim

pytestmark = pytest.mark.django_db

# create: 1 registry read (the tenant's own live deployment with its activity), the run, its
# history row, the event and its outbox row, the hour's counter (and the service's savepoint pair).
CREATE = {"postgresql": 8, "sqlite": 8}
# claim: the claim UPDATE … RETURNING every column (no second read), one INSERT … SELECT of
# their history rows, the events in bulk with their outbox rows (PostgreSQL: one unnest INSERT each, the
# events' on the raw connection, so not counted here; SQLite: a key lookup and two batches), the
# counter.
CLAIM = {"postgresql": 8, "sqlite": 12}


def _statements(captured) -> list[str]:
    return [q["sql"][:100] for q in captured.captured_queries]


def test_creating_a_run_runs_a_fixed_number_of_statements(world, vendor_check, runner):
    RunFactory(tenant=world.tenant, actor=runner)  # warm caches (content types, permissions)

    with CaptureQueriesContext(connection) as captured:
        services.run_create(tenant=world.tenant, actor=runner, work_unit_id="Vendor_Check", input={"n": 1})

    assert len(captured) == CREATE[connection.vendor], "\n".join(_statements(captured))


@pytest.mark.parametrize("batch", [50])
def test_a_50_run_claim_runs_a_fixed_number_of_statements(world, vendor_check, runner, agent, batch):
    for _ in range(batch):
        RunFactory(tenant=world.tenant, actor=runner)
    claim(world.tenant, agent, worker_id="warm-up", max_runs=1)

    with CaptureQueriesContext(connection) as captured:
        runs = claim(world.tenant, agent, worker_id="agent-1", max_runs=batch)

    assert len(runs) == batch - 1
    assert len(captured) == CLAIM[connection.vendor], "\n".join(_statements(captured))


def test_a_claim_still_writes_one_history_row_per_run_with_the_agent_and_reason(world, vendor_check, runner, agent):
    for _ in range(3):
        RunFactory(tenant=world.tenant, actor=runner)

    runs = claim(world.tenant, agent, worker_id="agent-7", max_runs=3)

    for run in runs:
        last = Run.history.filter(id=run.pk).order_by("-history_id").first()
        assert (last.status, last.attempt, last.worker_id) == (RunStatus.RUNNING, 1, "agent-7")
        assert last.history_user_id == agent.pk and last.history_change_reason == "claimed by agent-7"
        assert last.history_type == "~" and str(last.lease_token) == str(run.lease_token)
        assert Run.history.filter(id=run.pk).count() == 2  # created, claimed


def test_the_fast_claim_document_is_the_serializers(world, vendor_check, runner, agent):
    RunFactory(tenant=world.tenant, actor=runner, input={"po": 1}, priority=3)
    [run] = claim(world.tenant, agent)

    assert claimed_run_data(run) == ClaimedRunSerializer(run).data


def test_the_fast_run_document_is_the_serializers_in_every_state(world, vendor_check, runner, agent, other_runner):
    from runs.serializers import RunSerializer, run_document

    pending = RunFactory(tenant=world.tenant, actor=runner, input={"a": [1, 2]}, idempotency_key="k")
    RunFactory(tenant=world.tenant, actor=runner)
    [running] = claim(world.tenant, agent)
    failed = services.run_fail(tenant=world.tenant, actor=agent, run_id=running.pk, lease_token=str(running.lease_token),
                               attempt=running.attempt, error="boom", error_type="Boom")  # fmt: skip

    for run in (pending, running, failed, Run.objects.for_tenant(world.tenant).get(pk=failed.pk)):
        assert run_document(run, tenant=world.tenant) == RunSerializer(run, context={"tenant": world.tenant}).data
    assert run_document(pending)["organization_id"] == "acme-corp"  # no tenant given: the run's
