"""Demo content: tasks in every state, one breached SLA, one active action plan (idempotent)."""

from __future__ import annotations

from datetime import timedelta

from workflow import services
from workflow.models import ActionPlan, SLARecord, Task

TASKS = [
    # (key, title, task_type, priority, path of target states)
    ("new", "Review vendor contract", "review", "medium", []),
    ("in_progress", "Process application #1042", "intake", "high", ["in_progress"]),
    ("blocked", "Assess data-retention risk", "assessment", "high", ["in_progress", "blocked"]),
    ("completed", "Intake: new client Initech", "intake", "medium", ["in_progress", "completed"]),
    ("cancelled", "Duplicate request", "general", "low", ["cancelled"]),
]


def _task(tenant, key):
    return Task.objects.for_tenant(tenant).filter(metadata__demo=key).first()


def seed(*, tenants, users) -> None:
    acme, admin, member = tenants["acme-corp"], users["acme-admin"], users["acme-member"]

    plan = ActionPlan.objects.for_tenant(acme).filter(metadata__demo="plan").first()
    if plan is None:
        plan = services.action_plan_create(
            tenant=acme,
            actor=admin,
            title="Q1 Compliance Plan",
            description="Quarterly compliance action plan",
            goals=["Complete all pending assessments", "Update compliance documentation", "Schedule quarterly review"],
            metadata={"demo": "plan"},
        )
        services.action_plan_activate(tenant=acme, plan_id=plan.pk, actor=admin)

    for key, title, task_type, priority, path in TASKS:
        if _task(acme, key) is not None:
            continue
        task = services.task_create(
            tenant=acme, actor=member, title=title, task_type=task_type, priority=priority, assigned_to=member,
            action_plan_id=plan.pk, metadata={"demo": key},
        )  # fmt: skip
        for state in path:
            services.task_transition(tenant=acme, task_id=task.pk, target_state=state, actor=member, notes="demo")

    if _task(acme, "breached") is None:
        task = services.task_create(
            tenant=acme, actor=member, title="Urgent intake left waiting", task_type="intake", priority="critical",
            assigned_to=member, metadata={"demo": "breached"},
        )  # fmt: skip
        # Backdate the clock (demo only) and let the normal scan mark the breach and raise the alert.
        record = SLARecord.objects.for_tenant(acme).get(task=task)
        shift = timedelta(minutes=record.target_minutes + 30)
        SLARecord.objects.for_tenant(acme).filter(pk=record.pk).update(
            started_at=record.started_at - shift, due_at=record.due_at - shift, at_risk_at=record.at_risk_at - shift
        )
        services.sla_scan()

    seed_engine(tenants=tenants, users=users)

    globex = tenants.get("globex")
    if globex is not None and _task(globex, "new") is None:
        services.task_create(
            tenant=globex, actor=users["globex-member"], title="Globex onboarding", task_type="intake",
            metadata={"demo": "new"},
        )  # fmt: skip


def seed_engine(*, tenants, users) -> None:
    """The seed's 49-activity test cycle, published, with one instance started (idempotent)."""
    import json

    from workflow.engine import services as engine
    from workflow.engine.data import TEST_CYCLE
    from workflow.engine.models import TemplateStatus, WorkflowInstance, WorkflowTemplate

    acme, admin = tenants["acme-corp"], users["acme-admin"]
    template = (
        WorkflowTemplate.objects.for_tenant(acme).filter(name="test_cycle", status=TemplateStatus.PUBLISHED).first()
    )
    if template is None:
        template = engine.template_create(tenant=acme, actor=admin, definition=json.loads(TEST_CYCLE.read_text()))
        template = engine.template_publish(tenant=acme, actor=admin, template_id=template.pk)
    if not WorkflowInstance.objects.for_tenant(acme).filter(template=template).exists():
        engine.instance_start(tenant=acme, actor=admin, template_id=template.pk)
