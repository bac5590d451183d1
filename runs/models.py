"""Runs (seed 001): what did run — work-unit runs and their lifecycle, workspaces, members, the
work units delegated to them, and the per-hour run counters behind ``/activity/summary``.

A run's lifecycle is a django-fsm-2 graph on a protected field::

    pending ──start──► running ──complete──► completed
       │  ▲               │ └────fail──────► failed
       │  └───requeue─────┘ (lease expired / retryable failure, attempts left)
       ├──time_out──► failed (schedule-to-start deadline passed)
       └──cancel────► cancelled ◄──cancel── running (cancel acknowledged or lease expired)

The transition methods change the object in memory only; ``runs.services`` locks, checks,
transitions (``ocx.core.fsm.fsm_transition``), saves and publishes in one transaction. Two paths
move many rows in one statement instead (``ocx.core.db.claim_due_rows``): an agent's batch claim
(``start``) and the lease / deadline sweep (``requeue``, ``fail``, ``time_out``, ``cancel``).
Their SQL in ``runs.services.claims`` sets exactly what these methods set; keep them in step.

A run records the activity version and the deployment it ran (``activity``, ``deployment``,
``activity_version``) when it is created, so a later rollback never rewrites history. Registry
rows are referenced by string (``"registry.Activity"``): this app never imports registry.models.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_fsm import FSMField, FSMModelMixin, transition

from ocx.core.audit import History
from ocx.core.models import TenantScopedModel


class RunStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class WorkUnitType(models.TextChoices):
    ATOMIC = "atomic", "Atomic (a registry activity)"
    COMPOSITE = "composite", "Composite (a dynamic workflow template)"


class Execution(models.TextChoices):
    IN_PROCESS = "in_process", "In process (a registered handler, in a Celery worker)"
    AGENT = "agent", "External agent (claims the run through the API)"
    WORKFLOW = "workflow", "Workflow engine (a composite work unit's workflow instance)"


class ErrorType:
    """``error_type`` values OCX itself writes (handlers and agents write their own)."""

    LEASE_EXPIRED = "LeaseExpired"
    SCHEDULE_TO_START_TIMEOUT = "ScheduleToStartTimeout"
    START_TO_CLOSE_TIMEOUT = "StartToCloseTimeout"
    CANCELLED = "Cancelled"
    INVALID_OUTPUT = "InvalidOutput"


S = RunStatus
OPEN_STATUSES = (S.PENDING, S.RUNNING)
TERMINAL_STATUSES = (S.COMPLETED, S.FAILED, S.CANCELLED)
NO_ADMIN = {"admin": False}  # the system takes these; the admin's cancel is an extra operation


class Run(FSMModelMixin, TenantScopedModel):
    """One execution of a work unit, requested by a user, with its attempts (``attempt``), the
    lease of whoever executes the current attempt, and its outcome."""

    lock_order = 220  # after the workspace rows a run-creating service reads

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # --- what runs (the seed's fields) --------------------------------------------------------
    work_unit_id = models.CharField(max_length=200, help_text="An atomic work unit's id is its activity name.")
    work_unit_type = models.CharField(max_length=10, choices=WorkUnitType.choices, default=WorkUnitType.ATOMIC)
    work_unit_name = models.CharField(max_length=200)
    activity = models.ForeignKey("registry.Activity", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    activity_version = models.CharField(max_length=64, blank=True)
    deployment = models.ForeignKey(
        "registry.Deployment", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    environment = models.CharField(max_length=10, default="PROD")
    workspace = models.ForeignKey(
        "runs.Workspace", on_delete=models.PROTECT, null=True, blank=True, related_name="runs"
    )
    # --- who asked ----------------------------------------------------------------------------
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    user_name = models.CharField(max_length=150, blank=True)
    # --- lifecycle ----------------------------------------------------------------------------
    status = FSMField(default=S.PENDING, choices=RunStatus.choices, protected=True, max_length=10)
    input = models.JSONField(null=True, blank=True)
    output = models.JSONField(null=True, blank=True)
    error = models.TextField(blank=True)
    error_type = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(null=True, blank=True, help_text="Start of the current (last) attempt.")
    completed_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    execution_id = models.UUIDField(null=True, blank=True, help_text="The registry execution this run recorded.")
    # --- how it runs --------------------------------------------------------------------------
    execution = models.CharField(max_length=10, choices=Execution.choices, default=Execution.AGENT)
    priority = models.SmallIntegerField(default=0, help_text="Higher is claimed first.")
    idempotency_key = models.CharField(max_length=200, blank=True)
    attempt = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    available_at = models.DateTimeField(help_text="A pending run is not offered before this (retry backoff).")
    schedule_to_start_timeout = models.PositiveIntegerField(null=True, blank=True, help_text="Seconds; none: no limit.")
    start_to_close_timeout = models.PositiveIntegerField(default=300, help_text="Seconds one attempt may take.")
    deadline = models.DateTimeField(null=True, blank=True, help_text="A pending run still waiting then is failed.")
    # --- the current attempt's lease ----------------------------------------------------------
    lease_token = models.UUIDField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    lease_seconds = models.PositiveIntegerField(default=60, help_text="What a heartbeat extends the lease by.")
    worker_id = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    heartbeat_details = models.JSONField(
        null=True, blank=True, help_text="The last checkpoint; the next attempt gets it."
    )
    cancel_requested = models.BooleanField(default=False)
    celery_task_id = models.CharField(max_length=64, blank=True)
    workflow_instance_ref = models.CharField(
        max_length=64, blank=True, help_text="The workflow instance a composite run started (its id)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Heartbeats write their columns with one conditional UPDATE and no history row (they are
    # progress, not a change of the run); everything else a service saves is recorded.
    history = History(excluded_fields=["updated_at", "heartbeat_at", "heartbeat_details", "lease_expires_at"])

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="run_unique_idempotency_key",
            ),
        ]
        indexes = [
            # The tenant's recent runs and every keyset page of /runs.
            models.Index(fields=["tenant", "-created_at", "-id"], name="run_recent_idx"),
            models.Index(fields=["tenant", "user", "-created_at", "-id"], name="run_user_idx"),
            models.Index(fields=["tenant", "work_unit_id", "-created_at", "-id"], name="run_work_unit_idx"),
            models.Index(fields=["tenant", "workspace", "-created_at", "-id"], name="run_workspace_idx"),
            # The agents' claim: one ordered scan per topic (and one for "any work unit").
            models.Index(
                fields=["tenant", "work_unit_id", "-priority", "created_at", "id"],
                name="run_claim_topic_idx",
                condition=Q(status="pending", execution="agent"),
            ),
            models.Index(
                fields=["tenant", "-priority", "created_at", "id"],
                name="run_claim_any_idx",
                condition=Q(status="pending", execution="agent"),
            ),
            # The sweeps: expired leases, pending runs past their schedule-to-start deadline.
            models.Index(fields=["lease_expires_at"], name="run_lease_idx", condition=Q(status="running")),
            models.Index(
                fields=["deadline"], name="run_deadline_idx", condition=Q(status="pending", deadline__isnull=False)
            ),
        ]

    def __str__(self) -> str:
        return f"{self.work_unit_name} run {str(self.pk)[:8]} ({self.status})"

    # --- lifecycle (in memory only; runs.services does the rest) -----------------------------
    def _release(self, *, at) -> None:
        """The attempt is over: nobody holds the run any more."""
        self.lease_token = None
        self.lease_expires_at = None
        self.completed_at = at
        if self.started_at is not None:
            self.duration_ms = max(0, int((at - self.started_at).total_seconds() * 1000))

    @transition(field=status, source=S.PENDING, target=S.RUNNING, custom={"label": "Start", **NO_ADMIN})
    def start(self, *, at, worker_id: str, lease_token, lease_expires_at, lease_seconds: int) -> None:
        self.attempt += 1
        self.lease_seconds = lease_seconds
        self.started_at = at
        self.worker_id = worker_id
        self.lease_token = lease_token
        self.lease_expires_at = lease_expires_at
        self.heartbeat_at = None

    @transition(field=status, source=S.RUNNING, target=S.COMPLETED, custom={"label": "Complete", **NO_ADMIN})
    def complete(self, *, at, output) -> None:
        self.output = output
        self.error, self.error_type = "", ""
        self._release(at=at)

    @transition(field=status, source=S.RUNNING, target=S.FAILED, custom={"label": "Fail", **NO_ADMIN})
    def fail(self, *, at, error: str, error_type: str) -> None:
        self.error, self.error_type = error, error_type
        self._release(at=at)

    @transition(
        field=status, source=S.PENDING, target=S.FAILED, custom={"label": "Schedule-to-start timeout", **NO_ADMIN}
    )
    def time_out(self, *, at) -> None:
        self.error = "The run waited in pending past its schedule-to-start timeout."
        self.error_type = ErrorType.SCHEDULE_TO_START_TIMEOUT
        self.completed_at = at

    @transition(field=status, source=S.RUNNING, target=S.PENDING, custom={"label": "Re-offer", **NO_ADMIN})
    def requeue(self, *, at, available_at, error: str = "", error_type: str = "") -> None:
        """Another attempt: offered again from ``available_at`` (backoff), with a fresh deadline."""
        self.error, self.error_type = error, error_type
        self.lease_token = None
        self.lease_expires_at = None
        self.available_at = available_at
        if self.schedule_to_start_timeout:
            self.deadline = available_at + timedelta(seconds=self.schedule_to_start_timeout)

    @transition(field=status, source=S.PENDING, target=S.CANCELLED, custom={"label": "Cancel", **NO_ADMIN})
    @transition(field=status, source=S.RUNNING, target=S.CANCELLED, custom={"label": "Cancel", **NO_ADMIN})
    def cancel(self, *, at) -> None:
        self.cancel_requested = self.status == S.RUNNING or self.cancel_requested
        self.error_type = ErrorType.CANCELLED if self.started_at is not None else ""
        self._release(at=at)


class Workspace(TenantScopedModel):
    """A team's space: its members (with a role each) and the work units delegated to it."""

    lock_order = 200  # before its members and work units, before the runs started in it

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = History(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "name"], condition=Q(archived_at__isnull=True), name="workspace_unique_live_name"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "name"], name="workspace_name_idx")]

    def __str__(self) -> str:
        return self.name

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


class WorkspaceRole(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"
    VIEWER = "viewer", "Viewer"


#: Roles that may start runs of the workspace's work units.
RUNNING_ROLES = (WorkspaceRole.OWNER, WorkspaceRole.ADMIN, WorkspaceRole.MEMBER)
#: Roles that manage the workspace's members and work units.
MANAGING_ROLES = (WorkspaceRole.OWNER, WorkspaceRole.ADMIN)


class WorkspaceMember(TenantScopedModel):
    lock_order = 210

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=10, choices=WorkspaceRole.choices, default=WorkspaceRole.MEMBER)
    constraints = models.JSONField(null=True, blank=True, help_text="See runs.constraints.MEMBER_CONSTRAINTS_SCHEMA.")
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    department = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = History(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["workspace", "user"], name="workspace_member_unique")]
        indexes = [models.Index(fields=["tenant", "user"], name="workspace_member_user_idx")]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} ({self.role})"


class WorkspaceWorkUnit(TenantScopedModel):
    """A work unit delegated to a workspace (the seed's ``delegation``)."""

    lock_order = 210

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="work_units")
    work_unit_id = models.CharField(max_length=200)
    work_unit_type = models.CharField(max_length=10, choices=WorkUnitType.choices, default=WorkUnitType.ATOMIC)
    work_unit_name = models.CharField(max_length=200)
    delegation_id = models.CharField(max_length=200, blank=True, help_text="EATP trust reference.")
    constraints = models.JSONField(
        null=True, blank=True, help_text="See runs.constraints.WORK_UNIT_CONSTRAINTS_SCHEMA."
    )
    added_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    department = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = History(excluded_fields=["updated_at"])

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "work_unit_id"], name="workspace_work_unit_unique"),
        ]
        indexes = [
            # The delegations of /activity/team and /activity/my.
            models.Index(fields=["tenant", "-created_at", "-id"], name="workspace_wu_recent_idx"),
            models.Index(fields=["tenant", "added_by", "-created_at", "-id"], name="workspace_wu_user_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.work_unit_name} in {self.workspace}"


class RunCounter(TenantScopedModel):
    """Runs by current status, per tenant and hour of creation, kept in the transaction of every
    status change (``runs.services.counters``). ``/activity/summary?hours=N`` sums at most N×8
    rows however many runs there are. Each change lands on one of ``SHARDS`` rows of its hour at
    random, so concurrent writers rarely wait on the same row; a shard may go negative (a run
    counted on one shard and moved on another), only the sum over shards means anything."""

    SHARDS = 8

    bucket = models.DateTimeField(help_text="The hour the counted runs were created in.")
    shard = models.PositiveSmallIntegerField(default=0)
    pending = models.BigIntegerField(default=0)
    running = models.BigIntegerField(default=0)
    completed = models.BigIntegerField(default=0)
    failed = models.BigIntegerField(default=0)
    cancelled = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "bucket", "shard"], name="run_counter_unique_bucket"),
        ]

    def __str__(self) -> str:
        return f"runs of {self.tenant_id} created {self.bucket:%Y-%m-%d %H}:00 (shard {self.shard})"
