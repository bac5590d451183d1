"""Cancellation: a pending run at once; a running one on request, ending cancelled when its
executor acknowledges (its next complete/fail) or its lease expires — never half-cancelled."""

import pytest

from activity_feed.models import ActivityEvent
from ocx.core import errors
from registry import selectors as registry_selectors
from runs import services
from runs.models import RunStatus
from tests.runs.factories import RunFactory, claim, lease_of, reload

pytestmark = pytest.mark.django_db


def test_cancelling_a_pending_run_cancels_it_at_once_and_it_is_never_offered(world, vendor_check, runner, agent):
    run = RunFactory(tenant=world.tenant, actor=runner)

    cancelled = services.run_cancel(tenant=world.tenant, actor=runner, run_id=run.pk, reason="wrong vendor")

    assert cancelled.status == RunStatus.CANCELLED and cancelled.completed_at is not None
    assert cancelled.error_type == "" and cancelled.execution_id is None  # it never ran
    assert claim(world.tenant, agent) == []
    assert registry_selectors.execution_stats(activity=vendor_check)["total_executions"] == 0
    event = ActivityEvent.objects.for_tenant(world.tenant).get(type="runs.run.cancelled")
    assert event.event_metadata["reason"] == "wrong vendor" and event.user_name == "acme-member"


def test_cancelling_a_running_run_requests_it_and_the_agent_learns_it_on_heartbeat(world, vendor_check, runner, agent):
    RunFactory(tenant=world.tenant, actor=runner)
    [run] = claim(world.tenant, agent)

    requested = services.run_cancel(tenant=world.tenant, actor=runner, run_id=run.pk)

    assert requested.status == RunStatus.RUNNING and requested.cancel_requested is True
    assert services.run_heartbeat(tenant=world.tenant, actor=agent, **lease_of(run)).cancel_requested is True
    assert ActivityEvent.objects.for_tenant(world.tenant).filter(type="runs.run.cancel_requested").count() == 1


@pytest.mark.parametrize("report", ["complete", "fail"])
def test_the_agents_next_report_acknowledges_the_cancellation(world, vendor_check, runner, agent, report):
    RunFactory(tenant=world.tenant, actor=runner)
    [run] = claim(world.tenant, agent)
    services.run_cancel(tenant=world.tenant, actor=runner, run_id=run.pk)

    if report == "complete":
        ended = services.run_complete(tenant=world.tenant, actor=agent, output={"partial": 1}, **lease_of(run))
    else:
        ended = services.run_fail(tenant=world.tenant, actor=agent, error="stopped", retryable=True, **lease_of(run))

    assert ended.status == RunStatus.CANCELLED and ended.error_type == "Cancelled" and ended.lease_token is None
    stats = registry_selectors.execution_stats(activity=vendor_check)
    assert (stats["total_executions"], stats["failed_executions"]) == (1, 1)  # it did run: a failed execution


def test_cancelling_twice_changes_nothing_the_second_time(world, vendor_check, runner, agent):
    RunFactory(tenant=world.tenant, actor=runner)
    [run] = claim(world.tenant, agent)
    services.run_cancel(tenant=world.tenant, actor=runner, run_id=run.pk)
    services.run_cancel(tenant=world.tenant, actor=runner, run_id=run.pk)

    assert ActivityEvent.objects.for_tenant(world.tenant).filter(type="runs.run.cancel_requested").count() == 1


def test_a_finished_run_cannot_be_cancelled(world, vendor_check, runner, agent):
    RunFactory(tenant=world.tenant, actor=runner)
    [run] = claim(world.tenant, agent)
    services.run_complete(tenant=world.tenant, actor=agent, output={}, **lease_of(run))

    with pytest.raises(errors.InvalidTransition) as refused:
        services.run_cancel(tenant=world.tenant, actor=runner, run_id=run.pk)
    assert refused.value.details["current_state"] == "completed" and reload(run).status == RunStatus.COMPLETED


def test_only_who_started_a_run_or_a_tenant_admin_may_cancel_it(world, vendor_check, runner):
    from ocx.core.access import Role
    from tests.factories import member

    run = RunFactory(tenant=world.tenant, actor=runner)
    colleague = member(world.tenant, Role.MEMBER, username="acme-colleague")

    with pytest.raises(errors.PermissionDenied):
        services.run_cancel(tenant=world.tenant, actor=colleague, run_id=run.pk)
    assert services.run_cancel(tenant=world.tenant, actor=world.admin, run_id=run.pk).status == RunStatus.CANCELLED
