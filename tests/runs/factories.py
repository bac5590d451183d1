"""Runs test factories (factory_boy): rows are made through the services, never written
directly, so every test exercises the real rules; and a controllable clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import factory

from runs import services
from runs.models import Run, Workspace
from tests.factories import UserFactory

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Clock:
    """``timezone.now()`` for a test: frozen at ``now`` until moved."""

    def __init__(self, now: datetime = T0):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def set(self, moment: datetime) -> datetime:
        self.now = moment
        return self.now


class ServiceFactory(factory.Factory):
    """Build the service's keyword arguments, create through the service."""

    class Meta:
        abstract = True

    @classmethod
    def _build(cls, model_class, *args, **kwargs):
        return kwargs


class RunFactory(ServiceFactory):
    """A run of a live work unit: ``RunFactory(tenant=t, actor=u, work_unit_id="Vendor_Check")``."""

    class Meta:
        model = Run

    tenant = None
    actor = factory.SubFactory(UserFactory)
    work_unit_id = "Vendor_Check"
    input = factory.Sequence(lambda n: {"purchase_order": {"id": f"PO-{1000 + n}", "amount": 5000 + n}})
    environment = "PROD"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        run, _ = services.run_create(**kwargs)
        return run


class WorkspaceFactory(ServiceFactory):
    class Meta:
        model = Workspace

    tenant = None
    actor = None
    name = factory.Sequence(lambda n: f"Workspace {n}")
    description = "A team space"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.workspace_create(**kwargs)


def claim(tenant, actor, *, worker_id: str = "agent-1", max_runs: int = 1, **kwargs) -> list[Run]:
    return services.runs_claim(tenant=tenant, actor=actor, worker_id=worker_id, max_runs=max_runs, **kwargs)


def lease_of(run: Run) -> dict:
    return {"run_id": run.pk, "lease_token": str(run.lease_token), "attempt": run.attempt}


def reload(run: Run) -> Run:
    return Run.objects.for_tenant(run.tenant_id).get(pk=run.pk)
