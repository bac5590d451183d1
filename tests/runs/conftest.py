"""Runs fixtures: a tenant whose PO_Approval (in-process handler) and Vendor_Check (agents only)
are ACTIVE in PROD, the people who run them, an agent, and a frozen clock."""

import pytest
from django.utils import timezone

from ocx.core.access import Role
from tests.factories import member
from tests.registry.factories import RegistryWorld
from tests.runs.factories import Clock


@pytest.fixture
def clock(monkeypatch):
    """``timezone.now()`` frozen (``clock.advance(seconds=…)`` moves it): no test sleeps."""
    frozen = Clock()
    monkeypatch.setattr(timezone, "now", frozen)
    return frozen


@pytest.fixture
def world(tenant, other_tenant, settings, clock):
    settings.OCX_REGISTRY_REQUIRED_APPROVALS = ["TECHNICAL"]
    return RegistryWorld(
        tenant=tenant,
        creator=member(tenant, Role.MEMBER, username="acme-member"),
        admin=member(tenant, Role.ADMIN, username="acme-admin"),
        approvers={"TECHNICAL": member(tenant, Role.APPROVER_TECHNICAL, username="acme-technical")},
        viewer=member(tenant, Role.VIEWER, username="acme-viewer"),
        other_tenant=other_tenant,
        other_admin=member(other_tenant, Role.ADMIN, username="globex-admin"),
    )


@pytest.fixture
def po(world):
    """PO_Approval 1.0.0, ACTIVE in PROD: it has an in-process handler (runs.demo)."""
    return world.active(name="PO_Approval")


@pytest.fixture
def vendor_check(world):
    """Vendor_Check 1.0.0, ACTIVE in PROD: no handler, so it runs through agents."""
    return world.active(name="Vendor_Check")


@pytest.fixture
def runner(world):
    """A member who starts runs."""
    return world.creator


@pytest.fixture
def agent(tenant):
    """An agent's service account (a member: it may record executions)."""
    return member(tenant, Role.MEMBER, username="agent-bot")


@pytest.fixture
def other_runner(world):
    return member(world.other_tenant, Role.MEMBER, username="globex-member")


@pytest.fixture
def run_on_commit(django_capture_on_commit_callbacks):
    """Run what services queue on commit (Celery is eager in tests) as if the test's transaction committed."""

    def run(fn, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return fn(*args, **kwargs)

    return run


@pytest.fixture(autouse=True)
def _no_composite_executor(monkeypatch):
    """Runs tests start with no composite executor (whatever the workflow engine registered at
    start-up): tests/runs/test_composite.py installs a fake one."""
    from runs.services import composite

    monkeypatch.setattr(composite, "_executor", None)
