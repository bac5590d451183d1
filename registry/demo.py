"""Registry demo content: the seed's PO_Approval in several versions and states — 1.0.0 ACTIVE
in PROD for acme-corp with executions, 1.1.0 in REVIEW with pending approvals — plus a retired
and a draft activity. Idempotent: skipped when PO_Approval 1.0.0 already exists."""

from __future__ import annotations

import random
from datetime import timedelta

from django.utils import timezone

from registry import services
from registry.models import Activity

PO_SOURCE = """ACTIVITY "PO_Approval"
  OWNER "Finance Department"
  AUTHORITY "Procurement Policy v3.2"
  WHEN purchase_order.amount > 100000
    REQUIRE approval FROM "CFO"
  WHEN purchase_order.amount > 10000
    REQUIRE approval FROM "Finance Manager"
  ELSE
    APPROVE automatically
  EVIDENCE purchase_order, approval_record
"""


def seed(*, tenants, users) -> None:
    acme = tenants["acme-corp"]
    if Activity.objects.for_tenant(acme).filter(name="PO_Approval", version="1.0.0").exists():
        return
    creator, admin = users["acme-member"], users["acme-admin"]
    approvers = {
        "TECHNICAL": users["acme-technical"],
        "BUSINESS": users["acme-business"],
        "COMPLIANCE": users["acme-compliance"],
        "SECURITY": users["acme-security"],
    }

    def approve_all(activity):
        activity, approvals = services.activity_request_approval(
            tenant=acme, actor=creator, activity_id=activity.pk, comments="Please review"
        )
        for approval in approvals:
            activity, _ = services.approval_decide(
                tenant=acme,
                actor=approvers[approval.approval_type],
                activity_id=activity.pk,
                approval_id=approval.pk,
                approval_status="APPROVED",
                comments=f"{approval.approval_type.title()} review passed.",
            )
        return activity

    v1 = services.activity_create(
        tenant=acme,
        actor=creator,
        name="PO_Approval",
        version="1.0.0",
        ebcl_source=PO_SOURCE,
        owner="Finance Department",
        authority="Procurement Policy v3.2",
        description="Purchase order approval workflow",
        category="Procurement",
    )
    approve_all(v1)
    services.activity_deploy(
        tenant=acme, actor=admin, activity_id=v1.pk, environment="STAGING", deployment_notes="Pre-production validation"
    )
    deployment = services.activity_deploy(
        tenant=acme,
        actor=admin,
        activity_id=v1.pk,
        environment="PROD",
        target_tenant="acme-corp",
        deployment_notes="Initial production deployment",
    )
    rng = random.Random(7)
    now = timezone.now()
    for i in range(40):
        ok = rng.random() > 0.08
        services.execution_record(
            tenant=acme,
            actor=users["acme-member"],
            activity_id=v1.pk,
            deployment_id=deployment.pk,
            outcome="SUCCESS" if ok else "FAILURE",
            duration_ms=rng.randint(300, 900),
            evidence_ref=f"evidence://vault/po/{1000 + i}",
            error_message="" if ok else "Approver unavailable",
            executed_at=now - timedelta(minutes=40 - i),
            agent_id="agent-po-1",
        )

    v11 = services.activity_new_version(
        tenant=acme,
        actor=creator,
        activity_id=v1.pk,
        version_type="MINOR",
        change_summary="Added CFO approval for amounts > $50K",
        breaking_changes=["Changed approval threshold from $100K to $50K"],
        ebcl_source=PO_SOURCE.replace("100000", "50000"),
    )
    services.activity_request_approval(
        tenant=acme, actor=creator, activity_id=v11.pk, comments="Please review for SOX compliance"
    )
    technical = v11.approvals.get(approval_type="TECHNICAL")
    services.approval_decide(
        tenant=acme,
        actor=approvers["TECHNICAL"],
        activity_id=v11.pk,
        approval_id=technical.pk,
        approval_status="APPROVED",
        comments="Rule change reviewed.",
    )

    legacy = services.activity_create(
        tenant=acme,
        actor=creator,
        name="Invoice_Matching",
        version="0.9.0",
        ebcl_source='ACTIVITY "Invoice_Matching"',
        owner="Accounts Payable",
        authority="AP Manual 2.1",
        description="Three-way invoice matching",
        category="Finance",
    )
    approve_all(legacy)
    services.activity_retire(
        tenant=acme, actor=admin, activity_id=legacy.pk, reason="Replaced by the ERP's native matching"
    )
    services.activity_create(
        tenant=acme,
        actor=creator,
        name="Vendor_Onboarding",
        version="0.1.0",
        ebcl_source='ACTIVITY "Vendor_Onboarding"',
        owner="Procurement",
        authority="Vendor Policy v1",
        description="New vendor due diligence",
        category="Procurement",
    )
    globex = tenants["globex"]
    services.activity_create(
        tenant=globex,
        actor=users["globex-member"],
        name="Expense_Review",
        version="1.0.0",
        ebcl_source='ACTIVITY "Expense_Review"',
        owner="Globex Finance",
        authority="Expense Policy 2026",
        description="Expense report review",
        category="Finance",
    )
