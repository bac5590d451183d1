"""Engine data: versioned templates (phases, activity templates, dependencies) and their runs
(instances, activity instances, attempts, incidents).

Templates: a published version is frozen by a database trigger (migration 0006), so even raw
SQL cannot change what running instances are pinned to; editing means ``new-version`` (a
draft copy). ``dependents`` / ``upstream_count`` on an activity template are the effective graph
(explicit ``depends_on`` + sequential order + phase barriers) computed at publish by the pure
planner, so deciding what runs next reads only the finished activity's dependents.

Lock order (``ocx.core.locks``): template (30) → instance (40) → activity instance (50) →
incident (60). An activity instance of a fan-out is locked after its parent (lower pk, same
model: siblings in pk order).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_fsm import FSMField, FSMModelMixin, transition

from ocx.core.audit import History
from ocx.core.models import TenantScopedModel

__all__ = [
    "ActivityAttempt", "ActivityDependency", "ActivityInstance", "ActivityState", "ActivityTemplate",
    "ExecutionMode", "Incident", "InstanceState", "PhaseTemplate", "TemplateStatus", "WorkflowInstance",
    "WorkflowTemplate",
]  # fmt: skip


class ExecutionMode(models.TextChoices):
    SEQUENTIAL = "sequential", "Sequential"
    PARALLEL = "parallel", "Parallel"


class TemplateStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"


TEMPLATE_ADMIN = {"service": "workflow.engine.services.template_publish", "id_kwarg": "template_id"}


class WorkflowTemplate(FSMModelMixin, TenantScopedModel):
    lock_order = 30

    id = models.BigAutoField(primary_key=True)
    name = models.CharField(max_length=200)
    version = models.PositiveIntegerField(default=1)
    description = models.TextField(blank=True, default="")
    status = FSMField(default=TemplateStatus.DRAFT, choices=TemplateStatus.choices, protected=True, max_length=16)
    compensate_on_failure = models.BooleanField(default=False)
    default_context = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)

    history = History()

    class Meta:
        db_table = "workflow_templates"
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name", "version"], name="uniq_wf_template_version"),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version} ({self.status})"

    @transition(
        field=status,
        source=TemplateStatus.DRAFT,
        target=TemplateStatus.PUBLISHED,
        custom={"label": "Publish", **TEMPLATE_ADMIN},
    )
    def publish(self, *, at):
        self.published_at = at


class PhaseTemplate(models.Model):
    id = models.BigAutoField(primary_key=True)
    template = models.ForeignKey(WorkflowTemplate, on_delete=models.CASCADE, related_name="phases")
    key = models.SlugField(max_length=100)
    name = models.CharField(max_length=200)
    order = models.PositiveIntegerField()
    execution_mode = models.CharField(max_length=16, choices=ExecutionMode.choices, default=ExecutionMode.SEQUENTIAL)
    fan_out_over = models.CharField(max_length=100, blank=True, default="")
    max_concurrency = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        db_table = "workflow_phase_templates"
        ordering = ["template", "order", "id"]
        constraints = [models.UniqueConstraint(fields=["template", "key"], name="uniq_wf_phase_key")]

    def __str__(self) -> str:
        return f"{self.order}. {self.name}"


class ActivityTemplate(models.Model):
    id = models.BigAutoField(primary_key=True)
    template = models.ForeignKey(WorkflowTemplate, on_delete=models.CASCADE, related_name="activities")
    phase = models.ForeignKey(PhaseTemplate, on_delete=models.CASCADE, related_name="activities")
    key = models.SlugField(max_length=100)
    name = models.CharField(max_length=200)
    position = models.PositiveIntegerField(default=0)  # order inside the phase
    handler_name = models.CharField(max_length=100)
    manual = models.BooleanField(default=False)
    timeout_seconds = models.PositiveIntegerField(default=300)  # per attempt (manual: until due)
    total_timeout_seconds = models.PositiveIntegerField(null=True, blank=True)  # all attempts
    retry_policy = models.JSONField(default=dict, blank=True)
    conditional_expression = models.TextField(blank=True, default="")
    execution_mode = models.CharField(max_length=16, choices=ExecutionMode.choices, default=ExecutionMode.SEQUENTIAL)
    compensation_handler = models.CharField(max_length=100, blank=True, default="")
    parameters = models.JSONField(default=dict, blank=True)  # handler input (assignee, url, …)
    # The effective graph, computed at publish (planner.effective_graph).
    upstream_count = models.PositiveIntegerField(default=0)
    dependents = models.JSONField(default=list, blank=True)  # activity template ids
    depends_on = models.ManyToManyField(
        "self", symmetrical=False, through="ActivityDependency", related_name="required_by", blank=True
    )

    class Meta:
        db_table = "workflow_activity_templates"
        ordering = ["template", "phase__order", "position", "id"]
        constraints = [models.UniqueConstraint(fields=["template", "key"], name="uniq_wf_activity_key")]

    def __str__(self) -> str:
        return f"{self.key} ({self.handler_name})"

    @property
    def fans_out(self) -> bool:
        return self.execution_mode == ExecutionMode.PARALLEL and bool(self.phase.fan_out_over)


class ActivityDependency(models.Model):
    """An explicit ``depends_on`` edge (the seed's ``workflow_activity_dependencies``)."""

    id = models.BigAutoField(primary_key=True)
    activity = models.ForeignKey(ActivityTemplate, on_delete=models.CASCADE, related_name="dependency_rows")
    depends_on = models.ForeignKey(ActivityTemplate, on_delete=models.CASCADE, related_name="dependent_rows")

    class Meta:
        db_table = "workflow_activity_dependencies"
        constraints = [models.UniqueConstraint(fields=["activity", "depends_on"], name="uniq_wf_dependency")]

    def __str__(self) -> str:
        return f"{self.activity_id} after {self.depends_on_id}"


# --- runs -------------------------------------------------------------------------------------
class InstanceState(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    COMPENSATING = "compensating", "Compensating"
    COMPENSATED = "compensated", "Compensated"


INSTANCE_ADMIN = {
    "service": "workflow.engine.services.instance_cancel",
    "id_kwarg": "instance_id",
    "form": "workflow.engine.admin.ReasonForm",
}


class WorkflowInstance(FSMModelMixin, TenantScopedModel):
    lock_order = 40

    id = models.BigAutoField(primary_key=True)
    template = models.ForeignKey(WorkflowTemplate, on_delete=models.PROTECT, related_name="instances")
    state = FSMField(default=InstanceState.PENDING, choices=InstanceState.choices, protected=True, max_length=16)
    context = models.JSONField(default=dict, blank=True)
    start_keys = models.JSONField(default=list, blank=True)  # context keys given at start (they win)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    remaining = models.PositiveIntegerField(default=0)  # top-level activities not yet done
    completion_seq = models.PositiveIntegerField(default=0)  # orders completions (compensation runs backwards)
    error = models.TextField(blank=True, default="")
    # The run this instance executes when it was started as a composite work unit (runs app).
    run_id = models.UUIDField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    history = History(excluded_fields=["context", "remaining", "completion_seq"])

    class Meta:
        db_table = "workflow_instances"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["tenant", "state", "-created_at"], name="idx_wf_instance_state")]

    def __str__(self) -> str:
        return f"instance {self.pk} of {self.template_id} ({self.state})"

    @transition(field=state, source=InstanceState.PENDING, target=InstanceState.RUNNING, custom={"admin": False})
    def start(self, *, at):
        self.started_at = at

    @transition(field=state, source=InstanceState.RUNNING, target=InstanceState.COMPLETED, custom={"admin": False})
    def complete(self, *, at):
        self.finished_at = at

    @transition(field=state, source=InstanceState.RUNNING, target=InstanceState.FAILED, custom={"admin": False})
    def fail(self, *, at, error: str = ""):
        self.finished_at, self.error = at, error

    @transition(
        field=state,
        source=InstanceState.FAILED,
        target=InstanceState.RUNNING,
        custom={
            "label": "Retry from failure",
            "service": "workflow.engine.services.instance_retry",
            "id_kwarg": "instance_id",
            "form": "workflow.engine.admin.ReasonForm",
        },
    )
    def resume(self, *, at):
        self.finished_at, self.error = None, ""

    @transition(
        field=state,
        source=[InstanceState.PENDING, InstanceState.RUNNING, InstanceState.FAILED],
        target=InstanceState.CANCELLED,
        custom={"label": "Cancel instance", **INSTANCE_ADMIN},
    )
    def cancel(self, *, at):
        self.finished_at = at

    @transition(
        field=state,
        source=[InstanceState.FAILED, InstanceState.CANCELLED],
        target=InstanceState.COMPENSATING,
        custom={"admin": False},
    )
    def begin_compensation(self, *, at):
        pass

    @transition(
        field=state, source=InstanceState.COMPENSATING, target=InstanceState.COMPENSATED, custom={"admin": False}
    )
    def end_compensation(self, *, at):
        self.finished_at = at


class ActivityState(models.TextChoices):
    PENDING = "pending", "Pending"
    SCHEDULED = "scheduled", "Scheduled"
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting (manual)"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"
    CANCELLED = "cancelled", "Cancelled"


DONE_STATES = (ActivityState.COMPLETED, ActivityState.SKIPPED)


def celery_task_id_for(activity_id: int, attempt: int) -> str:
    """The Celery task id of attempt ``attempt`` of an activity: deterministic, so a resend by the
    sweep carries the same id and one revoke reaches every copy of the message."""
    return f"wf-act-{activity_id}-{attempt}"


OPEN_STATES = (ActivityState.PENDING, ActivityState.SCHEDULED, ActivityState.RUNNING, ActivityState.WAITING)


class ActivityInstance(FSMModelMixin, TenantScopedModel):
    """One activity of one instance; for a fan-out, the parent row (``parent_activity`` NULL,
    counting its children: the join) and one child per item (``item_index``)."""

    lock_order = 50

    id = models.BigAutoField(primary_key=True)
    workflow = models.ForeignKey(WorkflowInstance, on_delete=models.CASCADE, related_name="activities")
    activity_template = models.ForeignKey(ActivityTemplate, on_delete=models.PROTECT, related_name="+")
    instance_id = models.CharField(max_length=200)  # the seed's id of a (parallel) instance: key or key[i]
    parent_activity = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    execution_mode = models.CharField(max_length=16, choices=ExecutionMode.choices, default=ExecutionMode.SEQUENTIAL)
    state = FSMField(default=ActivityState.PENDING, choices=ActivityState.choices, protected=True, max_length=16)
    item_index = models.PositiveIntegerField(null=True, blank=True)
    item = models.JSONField(null=True, blank=True)
    remaining_dependencies = models.PositiveIntegerField(default=0)
    children_total = models.PositiveIntegerField(default=0)
    children_done = models.PositiveIntegerField(default=0)
    retry_count = models.PositiveIntegerField(default=0)  # attempts started
    retry_base = models.PositiveIntegerField(default=0)  # attempts before the last operator retry
    completion_order = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    last_error_type = models.CharField(max_length=200, blank=True, default="")
    result = models.JSONField(null=True, blank=True)
    task_id = models.BigIntegerField(null=True, blank=True, db_index=True)  # the Task of a manual activity
    # The Celery task id of the attempt queued last (``celery_task_id_for``): what cancelling revokes.
    celery_task_id = models.CharField(max_length=64, blank=True, default="")
    # The child run a ``run_work_unit`` activity waits for (its ``runs.run.*`` end event finishes it).
    run_id = models.UUIDField(null=True, blank=True, db_index=True)
    skip_reason = models.TextField(blank=True, default="")
    dispatch_deadline = models.DateTimeField(null=True, blank=True)  # scheduled: the message must start by then
    attempt_deadline = models.DateTimeField(null=True, blank=True)  # running: the attempt times out then
    due_at = models.DateTimeField(null=True, blank=True)  # waiting (manual): escalated after
    escalated_at = models.DateTimeField(null=True, blank=True)
    first_started_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    compensated_at = models.DateTimeField(null=True, blank=True)
    compensation_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    history = History(excluded_fields=["result", "item", "remaining_dependencies", "children_done"])

    class Meta:
        db_table = "workflow_activities"
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["workflow", "instance_id"], name="uniq_wf_activity_instance")]
        indexes = [
            models.Index(fields=["workflow", "activity_template"], name="idx_wf_act_template"),
            # The beat sweep reads only these partial indexes.
            models.Index(fields=["dispatch_deadline"], name="idx_wf_act_dispatch_due", condition=Q(state="scheduled")),
            models.Index(fields=["attempt_deadline"], name="idx_wf_act_attempt_due", condition=Q(state="running")),
            models.Index(
                fields=["due_at"], name="idx_wf_act_manual_due", condition=Q(state="waiting", escalated_at__isnull=True)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.instance_id} ({self.state})"

    @transition(field=state, source=[ActivityState.PENDING, ActivityState.FAILED], target=ActivityState.SCHEDULED)
    def schedule(self, *, dispatch_deadline):
        self.dispatch_deadline, self.attempt_deadline = dispatch_deadline, None
        self.celery_task_id = celery_task_id_for(self.pk, self.retry_count + 1)

    @transition(field=state, source=ActivityState.SCHEDULED, target=ActivityState.RUNNING)
    def begin(self, *, at, attempt_deadline):
        self.retry_count += 1
        self.started_at, self.attempt_deadline, self.dispatch_deadline = at, attempt_deadline, None
        self.first_started_at = self.first_started_at or at

    @transition(field=state, source=ActivityState.RUNNING, target=ActivityState.SCHEDULED)
    def retry_later(self, *, dispatch_deadline, error_type: str, error: str):
        self.dispatch_deadline, self.attempt_deadline = dispatch_deadline, None
        self.last_error_type, self.last_error = error_type, error
        self.celery_task_id = celery_task_id_for(self.pk, self.retry_count + 1)

    @transition(field=state, source=[ActivityState.PENDING, ActivityState.FAILED], target=ActivityState.RUNNING)
    def fan_out(self, *, at):
        """A fan-out parent runs while its children do (the join counts them)."""
        self.started_at = self.first_started_at = at

    @transition(field=state, source=[ActivityState.PENDING, ActivityState.FAILED], target=ActivityState.WAITING)
    def wait(self, *, at, due_at):
        self.started_at, self.due_at, self.escalated_at = at, due_at, None
        self.first_started_at = self.first_started_at or at

    @transition(field=state, source=[ActivityState.RUNNING, ActivityState.WAITING], target=ActivityState.COMPLETED)
    def complete(self, *, at, result):
        self.completed_at, self.result, self.attempt_deadline = at, result, None

    @transition(field=state, source=[ActivityState.RUNNING, ActivityState.WAITING], target=ActivityState.FAILED)
    def fail(self, *, at, error_type: str, error: str):
        self.attempt_deadline = None
        self.last_error_type, self.last_error = error_type, error

    @transition(field=state, source=[ActivityState.PENDING, ActivityState.FAILED], target=ActivityState.SKIPPED)
    def skip(self, *, at, reason: str):
        self.completed_at, self.skip_reason = at, reason

    @transition(field=state, source=list(OPEN_STATES), target=ActivityState.CANCELLED)
    def cancel(self, *, at):
        self.completed_at, self.attempt_deadline, self.dispatch_deadline = at, None, None


class ActivityAttempt(TenantScopedModel):
    """One attempt of an automated activity: when, how it ended, its error."""

    id = models.BigAutoField(primary_key=True)
    activity = models.ForeignKey(ActivityInstance, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, blank=True, default="")  # completed / failed / timed_out
    error_type = models.CharField(max_length=200, blank=True, default="")
    error = models.TextField(blank=True, default="")

    class Meta:
        db_table = "workflow_activity_attempts"
        ordering = ["activity", "number"]
        constraints = [models.UniqueConstraint(fields=["activity", "number"], name="uniq_wf_attempt")]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.activity_id}: {self.outcome or 'running'}"


class Incident(TenantScopedModel):
    """An activity that failed for good: what an operator retries, skips or cancels."""

    lock_order = 60

    id = models.BigAutoField(primary_key=True)
    workflow = models.ForeignKey(WorkflowInstance, on_delete=models.CASCADE, related_name="incidents")
    activity = models.ForeignKey(ActivityInstance, on_delete=models.CASCADE, related_name="incidents")
    error_type = models.CharField(max_length=200)
    message = models.TextField(blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=16, blank=True, default="")  # retried / skipped / cancelled
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    history = History()

    class Meta:
        db_table = "workflow_incidents"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["tenant", "error_type"], name="idx_wf_incident_open", condition=Q(resolved_at__isnull=True)
            )
        ]

    def __str__(self) -> str:
        return f"incident {self.pk}: {self.error_type}"
