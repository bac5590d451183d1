"""Workflow orchestration (seed 003): Task and ActionPlan state machines, transition records,
automation triggers and their executions, SLA configurations and records, webhook deliveries.

The state machines (tasks, action plans, SLA clocks) are the django-fsm ``@transition`` methods
below and nothing else: the API's ``/metadata`` endpoint, the admin's buttons (their ``custom``
``service`` / ``id_kwarg`` / ``target_kwarg``, see ``ocx.core.admin_fsm``) and the services,
which move a row with ``ocx.core.fsm.fsm_transition``, all read them. Transition methods only
change the object in memory; guards are pure functions of the row. Every write goes through
``workflow.services``.

Row locks follow ``lock_order`` (``ocx.core.locks``): an action plan (5) before a task (10) before
its SLA clock (20).

Global rows (``tenant`` NULL) exist for two kinds of configuration only: the seed's default SLA
configurations and its built-in automation triggers, which apply to every tenant. A tenant row
for the same service area and task type overrides the global SLA default.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_fsm import FSMField, FSMModelMixin, transition

from ocx.core.audit import History
from ocx.core.models import TenantScopedModel


class TaskState(models.TextChoices):
    NEW = "new", "New"
    IN_PROGRESS = "in_progress", "In progress"
    BLOCKED = "blocked", "Blocked"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class TaskPriority(models.TextChoices):
    LOW = "low", "Low"
    MEDIUM = "medium", "Medium"
    HIGH = "high", "High"
    CRITICAL = "critical", "Critical"


class ActionPlanState(models.TextChoices):
    DRAFT = "draft", "Draft"
    ACTIVE = "active", "Active"
    ARCHIVED = "archived", "Archived"


OPEN_TASK_STATES = (TaskState.NEW, TaskState.IN_PROGRESS, TaskState.BLOCKED)

# What the admin's transition buttons call (ocx.core.admin_fsm): the same service as the API,
# with the transition's target and "admin" as the notes.
TASK_ADMIN = {
    "service": "workflow.services.task_transition",
    "id_kwarg": "task_id",
    "target_kwarg": "target_state",
    "arguments": {"notes": "admin"},
}
PLAN_ADMIN = {**TASK_ADMIN, "service": "workflow.services.action_plan_transition", "id_kwarg": "plan_id"}


# --- guards (pure: they read the row, never write) ------------------------------------------
def plan_not_archived(task: Task) -> bool:
    """A task of an archived action plan cannot be started or resumed."""
    if task.action_plan_id is None:
        return True
    return task.action_plan.state != ActionPlanState.ARCHIVED


def plan_has_goals(plan: ActionPlan) -> bool:
    """An action plan needs at least one goal before it can be activated."""
    return any(str(goal).strip() for goal in (plan.goals or []))


class ActionPlan(FSMModelMixin, TenantScopedModel):
    lock_order = 5  # before its tasks

    id = models.BigAutoField(primary_key=True)
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True, default="")
    state = FSMField(default=ActionPlanState.DRAFT, choices=ActionPlanState.choices, protected=True, max_length=20)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    goals = models.JSONField(default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    history = History()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "state", "-created_at"], name="idx_plan_tenant_state")]

    def __str__(self) -> str:
        return self.title

    @transition(
        field=state,
        source=ActionPlanState.DRAFT,
        target=ActionPlanState.ACTIVE,
        conditions=[plan_has_goals],
        custom={"label": "Activate plan", **PLAN_ADMIN},
    )
    def activate(self, *, at=None):
        self.activated_at = at

    @transition(
        field=state,
        source=ActionPlanState.DRAFT,
        target=ActionPlanState.ARCHIVED,
        custom={"label": "Archive without activation", **PLAN_ADMIN},
    )
    @transition(
        field=state,
        source=ActionPlanState.ACTIVE,
        target=ActionPlanState.ARCHIVED,
        custom={"label": "Complete or retire plan", **PLAN_ADMIN},
    )
    def archive(self, *, at=None):
        self.archived_at = at


class Task(FSMModelMixin, TenantScopedModel):
    lock_order = 10  # after its action plan, before its SLA clock

    id = models.BigAutoField(primary_key=True)
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True, default="")
    state = FSMField(default=TaskState.NEW, choices=TaskState.choices, protected=True, max_length=20)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action_plan = models.ForeignKey(ActionPlan, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks")
    task_type = models.CharField(max_length=64, default="general")
    service_area = models.CharField(max_length=64, blank=True, default="")
    priority = models.CharField(max_length=16, choices=TaskPriority.choices, default=TaskPriority.MEDIUM)
    due_date = models.DateTimeField(null=True, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    history = History()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "state", "-created_at"], name="idx_task_tenant_state"),
            models.Index(fields=["tenant", "task_type", "state"], name="idx_task_tenant_type_state"),
            models.Index(fields=["tenant", "assigned_to"], name="idx_task_tenant_assignee"),
            models.Index(fields=["tenant", "-created_at", "-id"], name="idx_task_tenant_created"),
            # /metrics counts open tasks across tenants: a small index of the open ones only.
            models.Index(
                fields=["state"], name="idx_task_open_state", condition=Q(state__in=["new", "in_progress", "blocked"])
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @transition(
        field=state,
        source=TaskState.NEW,
        target=TaskState.IN_PROGRESS,
        conditions=[plan_not_archived],
        custom={"label": "Start work", **TASK_ADMIN},
    )
    def start(self, *, at=None):
        self.started_at = self.started_at or at

    @transition(
        field=state, source=TaskState.NEW, target=TaskState.BLOCKED, custom={"label": "Issue identified", **TASK_ADMIN}
    )
    @transition(
        field=state,
        source=TaskState.IN_PROGRESS,
        target=TaskState.BLOCKED,
        custom={"label": "Issue encountered", **TASK_ADMIN},
    )
    def block(self, *, at=None):
        pass

    @transition(
        field=state,
        source=TaskState.BLOCKED,
        target=TaskState.IN_PROGRESS,
        conditions=[plan_not_archived],
        custom={"label": "Issue resolved", **TASK_ADMIN},
    )
    def resume(self, *, at=None):
        self.started_at = self.started_at or at

    @transition(
        field=state,
        source=TaskState.IN_PROGRESS,
        target=TaskState.COMPLETED,
        custom={"label": "Work finished", **TASK_ADMIN},
    )
    def complete(self, *, at=None):
        self.completed_at = at

    @transition(
        field=state, source=TaskState.NEW, target=TaskState.CANCELLED, custom={"label": "Cancelled", **TASK_ADMIN}
    )
    @transition(
        field=state,
        source=TaskState.IN_PROGRESS,
        target=TaskState.CANCELLED,
        custom={"label": "Cancelled", **TASK_ADMIN},
    )
    @transition(
        field=state,
        source=TaskState.BLOCKED,
        target=TaskState.CANCELLED,
        custom={"label": "Cannot resolve", **TASK_ADMIN},
    )
    def cancel(self, *, at=None):
        self.completed_at = at


class StateTransition(TenantScopedModel):
    """One state change of a task or an action plan: who, when, from, to, why."""

    id = models.BigAutoField(primary_key=True)
    entity_type = models.CharField(max_length=32)  # "task" / "action_plan"
    entity_id = models.BigIntegerField()
    transition = models.CharField(max_length=64)
    from_state = models.CharField(max_length=20)
    to_state = models.CharField(max_length=20)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    context = models.JSONField(default=dict, blank=True)
    notes = models.TextField(blank=True, default="")
    event_id = models.BigIntegerField(null=True, blank=True)  # the ActivityEvent published for it
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["tenant", "entity_type", "entity_id", "-id"], name="idx_transition_entity")]

    def __str__(self) -> str:
        return f"{self.entity_type} {self.entity_id}: {self.from_state} → {self.to_state}"


# --- SLA ------------------------------------------------------------------------------------
class SLAConfig(models.Model):
    """Target time per service area and task type. ``tenant`` NULL: a global default."""

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("ocx.Tenant", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    service_area = models.CharField(max_length=64)
    task_type = models.CharField(max_length=64)
    target_minutes = models.PositiveIntegerField()
    # The at-risk warning fires once this fraction of the target has elapsed (NULL: the
    # SLA_AT_RISK_FRACTION setting).
    at_risk_fraction = models.FloatField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = History()

    class Meta:
        ordering = ["task_type", "service_area", "id"]
        verbose_name = "SLA configuration"
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "service_area", "task_type"],
                condition=Q(tenant__isnull=False),
                name="uniq_sla_config_tenant_area_type",
            ),
            models.UniqueConstraint(
                fields=["service_area", "task_type"],
                condition=Q(tenant__isnull=True),
                name="uniq_sla_config_global_area_type",
            ),
            models.CheckConstraint(condition=Q(target_minutes__gt=0), name="sla_config_target_positive"),
            models.CheckConstraint(
                condition=Q(at_risk_fraction__isnull=True) | Q(at_risk_fraction__gt=0, at_risk_fraction__lt=1),
                name="sla_config_at_risk_fraction_range",
            ),
        ]

    def __str__(self) -> str:
        scope = self.tenant_id and f"tenant {self.tenant_id}" or "global"
        return f"{self.task_type}/{self.service_area}: {self.target_minutes} min ({scope})"


class SLAStatus(models.TextChoices):
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused (blocked)"
    MET = "met", "Met"
    BREACHED = "breached", "Breached"
    CANCELLED = "cancelled", "Cancelled"


class SLARecord(FSMModelMixin, TenantScopedModel):
    """The SLA clock of one task, a state machine of its own (the transitions below), driven by
    the task's transitions (``workflow.services.sla.sla_on_transition``): blocked pauses it,
    leaving blocked resumes it (``due_at`` moves forward by the time spent blocked), completed
    stops it (met, or breached if late), cancelled stops it without a verdict.

    ``breached`` is final: once the clock passed ``due_at`` while running (marked by the beat
    scan or at completion), the record stays breached; ``completed_at`` still records the end.

    The one write of ``status`` outside these methods: the beat scan's claim
    (``sla_scan`` → ``ocx.core.db.claim_due_rows``) is the ``breach`` transition applied in bulk,
    one ``UPDATE … SET status = 'breached', breached_at = due_at WHERE status = 'running' AND
    due_at < now`` over a partial index (same source, target and effect as ``breach()``), because
    loading a million clocks to call the method on each would not fit the beat interval. Keep the
    two in step.
    """

    lock_order = 20  # after its task

    id = models.BigAutoField(primary_key=True)
    task = models.OneToOneField(Task, on_delete=models.CASCADE, related_name="sla")
    sla_config = models.ForeignKey(SLAConfig, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    target_minutes = models.PositiveIntegerField()
    status = FSMField(max_length=16, choices=SLAStatus.choices, default=SLAStatus.RUNNING, protected=True)
    started_at = models.DateTimeField()
    due_at = models.DateTimeField()
    at_risk_at = models.DateTimeField()
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_seconds = models.PositiveIntegerField(default=0)
    completed_at = models.DateTimeField(null=True, blank=True)
    actual_minutes = models.FloatField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    at_risk_notified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["due_at"]
        verbose_name = "SLA record"
        indexes = [
            # The beat scan reads only these two partial indexes (a few rows of the open ones).
            models.Index(fields=["due_at"], name="idx_sla_running_due", condition=Q(status="running")),
            models.Index(
                fields=["at_risk_at"],
                name="idx_sla_running_at_risk",
                condition=Q(status="running", at_risk_notified_at__isnull=True),
            ),
            models.Index(fields=["tenant", "status"], name="idx_sla_tenant_status"),
            models.Index(
                fields=["status", "at_risk_notified_at"],
                name="idx_sla_open_status",
                condition=Q(status__in=["running", "paused"]),
            ),
        ]

    def __str__(self) -> str:
        return f"SLA of task {self.task_id}: {self.status}"

    # --- the clock's transitions (in memory only; the service saves them) --------------------
    @transition(field=status, source=SLAStatus.RUNNING, target=SLAStatus.PAUSED, custom={"label": "Pause"})
    def pause(self, *, at):
        self.paused_at = at

    @transition(field=status, source=SLAStatus.PAUSED, target=SLAStatus.RUNNING, custom={"label": "Resume"})
    def resume(self, *, at):
        self._unpause(at)

    @transition(field=status, source=SLAStatus.RUNNING, target=SLAStatus.MET, custom={"label": "Met"})
    def meet(self, *, at):
        self.record_end(at=at)

    @transition(field=status, source=SLAStatus.RUNNING, target=SLAStatus.BREACHED, custom={"label": "Breached"})
    def breach(self, *, at=None):
        """Past ``due_at`` while running; ``at``: the work ended then (a late completion the scan
        had not reached yet). The scan applies this in bulk (see the class docstring)."""
        self.breached_at = self.due_at
        if at is not None:
            self.record_end(at=at)

    @transition(
        field=status,
        source=[SLAStatus.RUNNING, SLAStatus.PAUSED],
        target=SLAStatus.CANCELLED,
        custom={"label": "Cancelled"},
    )
    def cancel(self, *, at):
        if self.status == SLAStatus.PAUSED:  # the method runs before the state changes
            self._unpause(at)
        self.record_end(at=at)

    def record_end(self, *, at) -> None:
        """When the work ended and how long the clock ran (blocked time excluded). Also recorded
        on a breached clock, whose status no longer changes."""
        self.completed_at = at
        self.actual_minutes = round(max((at - self.started_at).total_seconds() - self.paused_seconds, 0) / 60, 2)

    def _unpause(self, at) -> None:
        paused = max(int((at - self.paused_at).total_seconds()), 0)
        self.paused_seconds += paused
        self.due_at += timedelta(seconds=paused)
        self.at_risk_at += timedelta(seconds=paused)
        self.paused_at = None

    @property
    def breached(self) -> bool:
        return self.status == SLAStatus.BREACHED

    @property
    def at_risk(self) -> bool:
        return self.status in (SLAStatus.RUNNING, SLAStatus.PAUSED) and self.at_risk_notified_at is not None


# --- automation -----------------------------------------------------------------------------
class AutomationTrigger(models.Model):
    """``when <event_type> and <predicate>: run <actions>`` (``tenant`` NULL: every tenant).

    ``event_type`` is an OCX event type (``workflow.task.completed``); a trailing ``*`` matches a
    prefix. ``predicate`` is a simpleeval expression over the event's data (validated when saved
    and again before every evaluation, see ``workflow.automation.predicates``); empty means always.
    ``actions`` is an ordered list of ``{"action_type": …, "parameters": {…}}``.
    """

    id = models.BigAutoField(primary_key=True)
    tenant = models.ForeignKey("ocx.Tenant", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    key = models.SlugField(max_length=100, blank=True, default="")  # stable name of a built-in trigger
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    event_type = models.CharField(max_length=120, db_index=True)
    predicate = models.TextField(blank=True, default="")
    actions = models.JSONField(default=list)
    is_active = models.BooleanField(default=True)
    builtin = models.BooleanField(default=False)
    position = models.PositiveIntegerField(default=100)  # evaluation order among matching triggers
    failure_count = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    last_failed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = History(excluded_fields=["failure_count", "last_error", "last_failed_at"])

    class Meta:
        ordering = ["position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["key"], condition=~Q(key=""), name="uniq_trigger_key"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        from workflow.automation.validation import validate_trigger_definition

        validate_trigger_definition(event_type=self.event_type, predicate=self.predicate, actions=self.actions)


class ExecutionStatus(models.TextChoices):
    SUCCEEDED = "succeeded", "Succeeded"
    SKIPPED = "skipped", "Predicate false"
    FAILED = "failed", "Failed"


class TriggerExecution(TenantScopedModel):
    """One trigger evaluated against one event; unique, so a redelivered event runs it once."""

    id = models.BigAutoField(primary_key=True)
    trigger = models.ForeignKey(AutomationTrigger, on_delete=models.CASCADE, related_name="executions")
    event_id = models.BigIntegerField()  # ActivityEvent id (no FK: expired events may be purged)
    event_type = models.CharField(max_length=120)
    status = models.CharField(max_length=16, choices=ExecutionStatus.choices)
    attempts = models.PositiveIntegerField(default=1)
    error = models.TextField(blank=True, default="")
    results = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["trigger", "event_id"], name="uniq_trigger_execution_event")]
        indexes = [models.Index(fields=["tenant", "status"], name="idx_trigger_exec_status")]

    def __str__(self) -> str:
        return f"{self.trigger_id} on event {self.event_id}: {self.status}"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (gave up)"


class WebhookDelivery(TenantScopedModel):
    """An outbound webhook queued by an automation action; sent by a Celery task, never inside
    a database transaction, retried with exponential backoff."""

    id = models.BigAutoField(primary_key=True)
    trigger = models.ForeignKey(AutomationTrigger, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    event_id = models.BigIntegerField(null=True, blank=True)
    url = models.URLField(max_length=1000)
    secret = models.CharField(max_length=200, blank=True, default="")
    payload = models.JSONField(default=dict)
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=5)
    next_attempt_at = models.DateTimeField()
    locked_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(
                fields=["next_attempt_at"], name="idx_webhook_due", condition=Q(status__in=["pending", "sending"])
            ),
        ]

    def __str__(self) -> str:
        return f"webhook {self.id} → {self.url} ({self.status})"


from workflow.engine.models import *  # noqa: E402,F401,F403
