"""Registry test helpers: activities are created and moved through their lifecycle with the
services only, so every test exercises the real transitions."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from registry import services
from registry.models import Activity, ApprovalStatus

_names = itertools.count(1)

PO_APPROVAL_SOURCE = 'ACTIVITY "PO_Approval"\n  WHEN amount > 100000 REQUIRE approval FROM "CFO"\n'


@dataclass
class RegistryWorld:
    tenant: object
    creator: object
    admin: object
    approvers: dict
    viewer: object
    other_tenant: object
    other_admin: object
    extra: dict = field(default_factory=dict)

    def create(self, *, name: str | None = None, version: str = "1.0.0", **fields) -> Activity:
        defaults = dict(
            ebcl_source=PO_APPROVAL_SOURCE,
            owner="Finance Department",
            authority="Procurement Policy v3.2",
            description="Purchase order approval workflow",
            category="Procurement",
        )
        defaults.update(fields)
        return services.activity_create(
            tenant=self.tenant, actor=self.creator, name=name or f"Activity_{next(_names)}", version=version, **defaults
        )

    def request_all(self, activity: Activity):
        return services.activity_request_approval(tenant=self.tenant, actor=self.creator, activity_id=activity.pk)

    def decide(self, activity: Activity, approval, status=ApprovalStatus.APPROVED, comments: str = "ok"):
        return services.approval_decide(
            tenant=self.tenant,
            actor=self.approvers[approval.approval_type],
            activity_id=activity.pk,
            approval_id=approval.pk,
            approval_status=status,
            comments=comments,
        )

    def approved(self, **kwargs) -> Activity:
        activity = self.create(**kwargs)
        _, approvals = self.request_all(activity)
        for approval in approvals:
            activity, _ = self.decide(activity, approval)
        return activity

    def deploy(self, activity: Activity, environment: str = "PROD", **kwargs):
        return services.activity_deploy(
            tenant=self.tenant, actor=self.admin, activity_id=activity.pk, environment=environment, **kwargs
        )

    def active(self, environment: str = "PROD", **kwargs) -> Activity:
        activity = self.approved(**kwargs)
        self.deploy(activity, environment)
        activity.refresh_from_db()
        return activity

    def reload(self, activity: Activity) -> Activity:
        return Activity.objects.for_tenant(self.tenant).get(pk=activity.pk)
