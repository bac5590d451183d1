"""Runs demo: the in-process handler of PO_Approval (registered at start-up by ``RunsConfig``),
and the demo content ``seed_demo`` adds for acme-corp: two more live work units, two workspaces
with members and delegated work units, a week of runs by several people (some failed, one
cancelled), one long-running agent run, and a few pending runs for ``scripts/agent.py``.

The week of history is made by the real services — create, claim, heartbeat, complete or fail —
with ``timezone.now`` set to the moment each step happened, so its events, history rows,
counters and registry executions are what they would have been. Idempotent: skipped when
acme-corp's "Procurement" workspace exists.
"""

from __future__ import annotations

import random
import re
from contextlib import contextmanager
from datetime import datetime, timedelta

from runs.handlers import RunContext, register

# The thresholds of the seed's EBCL source (registry/demo.py), used when a version's source
# does not spell them out: WHEN purchase_order.amount > N REQUIRE approval FROM "<approver>".
DEFAULT_RULES = ((100_000, "CFO"), (10_000, "Finance Manager"))
_RULE = re.compile(r'WHEN\s+purchase_order\.amount\s*>\s*(\d+)\s+REQUIRE\s+approval\s+FROM\s+"([^"]+)"', re.I)


def approval_rules(source: str) -> list[tuple[int, str]]:
    """``(threshold, approver)`` pairs of an EBCL source, highest threshold first."""
    rules = [(int(amount), approver) for amount, approver in _RULE.findall(source or "")]
    return sorted(rules or DEFAULT_RULES, reverse=True)


@register("PO_Approval")
def po_approval(ctx: RunContext) -> dict:
    """Check the purchase order in the input against the deployed version's approval thresholds:
    above a threshold it needs that approver, else it is approved automatically."""
    order = (ctx.input or {}).get("purchase_order") if isinstance(ctx.input, dict) else None
    if not isinstance(order, dict) or "amount" not in order:
        raise ValueError("input.purchase_order.amount is required")
    try:
        amount = float(order["amount"])
    except (TypeError, ValueError):
        raise ValueError("input.purchase_order.amount must be a number") from None
    if amount < 0:
        raise ValueError("input.purchase_order.amount cannot be negative")
    for threshold, approver in approval_rules(ctx.source):
        if amount > threshold:
            return {
                "purchase_order_id": order.get("id"),
                "amount": amount,
                "decision": "approval_required",
                "approver": approver,
                "threshold": threshold,
                "rule": f"purchase_order.amount > {threshold}",
                "activity_version": ctx.activity_version,
            }
    return {
        "purchase_order_id": order.get("id"),
        "amount": amount,
        "decision": "approved",
        "approver": None,
        "threshold": min(t for t, _ in approval_rules(ctx.source)),
        "rule": "ELSE APPROVE automatically",
        "activity_version": ctx.activity_version,
    }


# --- demo content -----------------------------------------------------------------------------
EXTRA_ACTIVITIES = {
    "Vendor_Screening": ("Procurement", "Sanctions and risk screening of a new vendor", 'ACTIVITY "Vendor_Screening"\n'
                         '  OWNER "Procurement"\n  REQUIRE check FROM "Sanctions list"\n  EVIDENCE vendor, screening_report\n'),
    "Expense_Audit": ("Finance", "Spot check of expense reports against policy", 'ACTIVITY "Expense_Audit"\n'
                      '  OWNER "Finance"\n  WHEN expense.amount > 500 REQUIRE receipt\n  EVIDENCE expense_report\n'),
}  # fmt: skip
ERRORS = {
    "PO_Approval": ("ApproverUnavailable", "No Finance Manager answered within the SLA."),
    "Vendor_Screening": ("VendorRegistryTimeout", "The sanctions registry did not answer in 30 s."),
    "Expense_Audit": ("ReceiptMissing", "Expense report has no receipt for a line above 500."),
}


@contextmanager
def _at(moment: datetime):
    """The services see ``moment`` as now (demo history only; ``seed_demo`` is single-threaded)."""
    from django.utils import timezone

    original = timezone.now
    timezone.now = lambda: moment
    try:
        yield
    finally:
        timezone.now = original


def _live_activity(*, tenant, users, name: str):
    from registry import selectors as registry_selectors
    from registry import services as registry_services

    found = registry_selectors.activity_for_work_unit(tenant=tenant, work_unit=name)
    if found is not None and registry_selectors.live_deployment_for(tenant=tenant, activity=found, environment="PROD"):
        return found
    category, description, source = EXTRA_ACTIVITIES[name]
    activity = registry_services.activity_create(
        tenant=tenant, actor=users["acme-member"], name=name, version="1.0.0", ebcl_source=source,
        owner=category, authority="Demo policy", description=description, category=category,
    )  # fmt: skip
    activity, approvals = registry_services.activity_request_approval(
        tenant=tenant, actor=users["acme-member"], activity_id=activity.pk, comments="Please review"
    )
    for approval in approvals:
        activity, _ = registry_services.approval_decide(
            tenant=tenant, actor=users[f"acme-{approval.approval_type.lower()}"], activity_id=activity.pk,
            approval_id=approval.pk, approval_status="APPROVED", comments="Reviewed.",
        )  # fmt: skip
    registry_services.activity_deploy(
        tenant=tenant, actor=users["acme-admin"], activity_id=activity.pk, environment="PROD", target_tenant="acme-corp"
    )
    return activity


def _workspaces(*, tenant, users):
    from runs import services

    admin = users["acme-admin"]
    procurement = services.workspace_create(tenant=tenant, actor=admin, name="Procurement",
                                            description="Purchase orders and vendors")  # fmt: skip
    finance = services.workspace_create(
        tenant=tenant, actor=admin, name="Finance Ops", description="Expenses and close"
    )
    for workspace, username, role, department, constraints in (
        (procurement, "acme-member", "member", "Procurement", None),
        (procurement, "acme-business", "admin", "Procurement", None),
        (procurement, "acme-viewer", "viewer", "Audit", None),
        (finance, "acme-member", "member", "Finance", {"allowed_environments": ["PROD"], "max_priority": 10}),
        (finance, "acme-compliance", "member", "Compliance", None),
    ):
        services.member_add(tenant=tenant, actor=admin, workspace_id=workspace.pk, user_id=users[username].pk,
                            role=role, department=department, constraints=constraints)  # fmt: skip
    for workspace, name in (
        (procurement, "PO_Approval"),
        (procurement, "Vendor_Screening"),
        (finance, "Expense_Audit"),
    ):
        services.work_unit_add(tenant=tenant, actor=admin, workspace_id=workspace.pk, work_unit_id=name,
                               delegation_id=f"eatp:delegation:{name.lower()}")  # fmt: skip
    return {"PO_Approval": procurement, "Vendor_Screening": procurement, "Expense_Audit": finance}


def _input(name: str, rng: random.Random, n: int) -> dict:
    if name == "PO_Approval":
        return {"purchase_order": {"id": f"PO-{4000 + n}", "amount": rng.choice([850, 4200, 12500, 48000, 160000]),
                                   "vendor": rng.choice(["ACME Steel", "Globex Paper", "Initech"])}}  # fmt: skip
    if name == "Vendor_Screening":
        return {"vendor": {"name": rng.choice(["Umbrella Ltd", "Stark Supplies", "Wayne Freight"]), "country": "DE"}}
    return {"expense": {"id": f"EXP-{700 + n}", "amount": rng.choice([45, 320, 780, 1500])}}


def _output(name: str, run, data: dict) -> dict:
    if name == "PO_Approval":
        ctx = RunContext(run_id=str(run.pk), tenant_id=run.tenant_id, work_unit_id=name, activity_version=run.activity_version,
                         environment=run.environment, attempt=run.attempt, input=data)  # fmt: skip
        return po_approval(ctx)
    if name == "Vendor_Screening":
        return {"risk": "low", "sanctions_hits": 0}
    return {"compliant": True, "receipt": "present", "amount": data["expense"]["amount"]}


def seed_runs(*, tenants, users, now: datetime | None = None) -> None:
    """acme-corp's runs demo (see the module docstring)."""
    from django.utils import timezone

    from runs import services
    from runs.models import Workspace

    acme = tenants["acme-corp"]
    if Workspace.objects.for_tenant(acme).filter(name="Procurement").exists():
        return
    now = now or timezone.now()
    for name in EXTRA_ACTIVITIES:
        _live_activity(tenant=acme, users=users, name=name)
    workspace_of = _workspaces(tenant=acme, users=users)
    people = {"PO_Approval": ["acme-member", "acme-business"], "Vendor_Screening": ["acme-member", "acme-business"],
              "Expense_Audit": ["acme-member", "acme-compliance"]}  # fmt: skip
    agent = users["acme-member"]  # the demo agents' service account
    rng = random.Random(1)
    n = 0
    for day in range(7, 0, -1):
        for _ in range(rng.randint(5, 9)):
            n += 1
            name = rng.choice(list(people))
            start = (now - timedelta(days=day)).replace(hour=rng.randint(8, 17), minute=rng.randint(0, 59), second=0)
            data = _input(name, rng, n)
            with _at(start):
                run, _ = services.run_create(tenant=acme, actor=users[rng.choice(people[name])], work_unit_id=name,
                                             input=data, execution="agent", workspace_id=workspace_of[name].pk)  # fmt: skip
            if rng.random() < 0.05:
                with _at(start + timedelta(minutes=2)):
                    services.run_cancel(tenant=acme, actor=users["acme-admin"], run_id=run.pk, reason="duplicate")
                continue
            with _at(start + timedelta(seconds=rng.randint(1, 20))):
                [claimed] = services.runs_claim(tenant=acme, actor=agent, worker_id=f"agent-{name.lower()}-1",
                                                topics=[name])  # fmt: skip
            lease = {"tenant": acme, "actor": agent, "run_id": claimed.pk, "lease_token": claimed.lease_token,
                     "attempt": claimed.attempt}  # fmt: skip
            with _at(start + timedelta(seconds=rng.randint(25, 240))):
                if rng.random() < 0.12:
                    error_type, error = ERRORS[name]
                    services.run_fail(**lease, error=error, error_type=error_type)
                else:
                    services.run_complete(**lease, output=_output(name, claimed, data))
    _today(tenant=acme, users=users, workspace_of=workspace_of, agent=agent)


def _today(*, tenant, users, workspace_of, agent) -> None:
    """Now: one long-running agent run (heartbeating), an in-process PO_Approval, pending runs."""
    from runs import services

    member = users["acme-member"]
    long_run, _ = services.run_create(
        tenant=tenant, actor=users["acme-business"], work_unit_id="Vendor_Screening", execution="agent",
        input={"vendor": {"name": "Oscorp Logistics", "country": "US", "full_due_diligence": True}},
        workspace_id=workspace_of["Vendor_Screening"].pk, start_to_close_timeout=86400, priority=5,
    )  # fmt: skip
    [claimed] = services.runs_claim(tenant=tenant, actor=agent, worker_id="agent-long-1", topics=["Vendor_Screening"],
                                    lease_seconds=3600)  # fmt: skip
    services.run_heartbeat(tenant=tenant, actor=agent, run_id=claimed.pk, lease_token=claimed.lease_token,
                           attempt=claimed.attempt, details={"progress": 0.4, "checked": 412, "total": 1030})  # fmt: skip
    run, _ = services.run_create(tenant=tenant, actor=member, work_unit_id="PO_Approval", execution="in_process",
                                 input={"purchase_order": {"id": "PO-5001", "amount": 18000, "vendor": "Initech"}},
                                 workspace_id=workspace_of["PO_Approval"].pk)  # fmt: skip
    services.run_execute(run_id=run.pk, worker_id="celery:demo")  # a worker that got the task first wins
    for vendor in ("Cyberdyne Systems", "Tyrell Corp"):
        services.run_create(tenant=tenant, actor=member, work_unit_id="Vendor_Screening", execution="agent",
                            input={"vendor": {"name": vendor, "country": "US"}},
                            workspace_id=workspace_of["Vendor_Screening"].pk)  # fmt: skip


def seed(*, tenants, users) -> None:
    seed_runs(tenants=tenants, users=users)
