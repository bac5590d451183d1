"""The Activity Registry (seed 000): what may run.

Six tables, named as the seed names them: activities, activity_deployments,
activity_executions, activity_approvals, activity_versions, activity_conflicts (plus a maintained
per-activity execution aggregate so stats stay O(1) at millions of executions).

Activities, deployments and approvals each have a django-fsm-2 lifecycle on a protected field;
the transitions here only change the object in memory. ``registry.services`` locks (the activity
first: ``lock_order``), checks permissions, moves the row through ``ocx.core.fsm.fsm_transition``
(save, history, event) in one transaction. A transition's ``custom`` names the service, form and
label the admin offers it with (``ocx.core.admin_fsm``), as dotted strings: this module imports
neither. Content immutability is enforced by a database trigger (migration 0002) as well as by
the services and the admin.
"""

from __future__ import annotations

import uuid

import semver
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_fsm import FSMField, FSMModelMixin, transition

from ocx.core.access import Perm
from ocx.core.audit import History
from ocx.core.models import TenantScopedModel
from registry.rules import may, may_decide


class ActivityStatus(models.TextChoices):
    DRAFT = "DRAFT", "Draft"
    REVIEW = "REVIEW", "In review"
    APPROVED = "APPROVED", "Approved"
    DEPLOYED = "DEPLOYED", "Deployed"
    ACTIVE = "ACTIVE", "Active"
    SUSPENDED = "SUSPENDED", "Suspended"
    RETIRED = "RETIRED", "Retired"


S = ActivityStatus
#: Once approved, an activity's content is frozen (the database trigger uses the same list).
FROZEN_STATUSES = (S.APPROVED, S.DEPLOYED, S.ACTIVE, S.SUSPENDED, S.RETIRED)
#: The fields the freeze covers.
CONTENT_FIELDS = ("name", "version", "ebcl_source", "owner", "authority", "description", "category")


class Environment(models.TextChoices):
    DEV = "DEV", "Development"
    STAGING = "STAGING", "Staging"
    PROD = "PROD", "Production"


class ApprovalType(models.TextChoices):
    TECHNICAL = "TECHNICAL", "Technical"
    BUSINESS = "BUSINESS", "Business"
    COMPLIANCE = "COMPLIANCE", "Compliance"
    SECURITY = "SECURITY", "Security"


class VersionType(models.TextChoices):
    MAJOR = "MAJOR", "Major"
    MINOR = "MINOR", "Minor"
    PATCH = "PATCH", "Patch"


def validate_semver(value: str) -> None:
    if not semver.Version.is_valid(value or ""):
        raise ValidationError(f"'{value}' is not a semantic version (MAJOR.MINOR.PATCH).", code="semver")


def _admin(label: str, slug: str, service: str, form: str, done: str, **more) -> dict:
    """A transition's ``custom``: how the admin offers it (``ocx.core.admin_fsm``)."""
    return {
        "label": label,
        "slug": slug,
        "service": f"registry.services.{service}",
        "form": f"registry.forms.{form}",
        "done": done,
        **more,
    }


DEPLOY = _admin("Deploy", "deploy", "activity_deploy", "DeployForm", "Deployed.")


may_deploy = may(Perm.DEPLOY_ACTIVITY)


class Activity(FSMModelMixin, TenantScopedModel):
    lock_order = 10  # the parent: locked before its deployments and approvals (ocx.core.locks)

    activity_id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    version = models.CharField(max_length=64, validators=[validate_semver])
    # Numeric semver parts so the database can order versions (1.10.0 > 1.9.0).
    version_major = models.PositiveIntegerField(default=0, editable=False)
    version_minor = models.PositiveIntegerField(default=0, editable=False)
    version_patch = models.PositiveIntegerField(default=0, editable=False)
    ebcl_source = models.TextField()
    owner = models.CharField(max_length=200)
    authority = models.CharField(max_length=300, blank=True)
    description = models.TextField(blank=True)
    category = models.CharField(max_length=100, blank=True, db_index=True)
    status = FSMField(default=S.DRAFT, choices=ActivityStatus.choices, protected=True, db_index=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    review_round = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = History(excluded_fields=["updated_at"])

    class Meta:
        db_table = "activities"
        verbose_name_plural = "activities"
        ordering = ["name", "-version_major", "-version_minor", "-version_patch"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name", "version"], name="activity_unique_name_version"),
        ]
        indexes = [
            models.Index(
                fields=["tenant", "name", "version_major", "version_minor", "version_patch"], name="activity_semver_idx"
            ),
            models.Index(fields=["tenant", "status", "category"], name="activity_status_idx"),
            models.Index(fields=["tenant", "-created_at"], name="activity_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"

    def save(self, *args, **kwargs):
        parsed = semver.Version.parse(self.version)
        self.version_major, self.version_minor, self.version_patch = parsed.major, parsed.minor, parsed.patch
        super().save(*args, **kwargs)

    @property
    def is_frozen(self) -> bool:
        return self.status in FROZEN_STATUSES

    @property
    def semver(self) -> semver.Version:
        return semver.Version.parse(self.version)

    # --- lifecycle (in memory only; registry.services does the rest) -------------------------
    @transition(field=status, source=S.DRAFT, target=S.REVIEW, custom={"label": "Submit for review"})
    def submit_for_review(self):
        """The first approval request of a draft opens a new review round."""
        self.review_round += 1

    @transition(field=status, source=S.REVIEW, target=S.APPROVED, custom={"label": "Approve"})
    def approve(self):
        """Every required approval (and every other one asked for) is granted in the round."""

    @transition(field=status, source=S.REVIEW, target=S.DRAFT, custom={"label": "Reject"})
    def reject(self):
        """One approval of the round was rejected: back to a draft."""

    @transition(field=status, source=S.APPROVED, target=S.DEPLOYED, permission=may_deploy, custom=DEPLOY)
    @transition(field=status, source=S.DEPLOYED, target=S.DEPLOYED, permission=may_deploy, custom=DEPLOY)
    @transition(field=status, source=S.ACTIVE, target=S.ACTIVE, permission=may_deploy, custom=DEPLOY)
    def deploy(self):
        """A new deployment: an approved activity becomes DEPLOYED, a deployed or active one
        keeps its state (the deployment itself goes live now or on its effective date)."""

    @transition(field=status, source=S.DEPLOYED, target=S.ACTIVE, custom={"label": "Activate"})
    def activate(self):
        """One of its deployments went live."""

    @transition(field=status, source=S.ACTIVE, target=S.DEPLOYED, custom={"label": "Deactivate"})
    def deactivate(self):
        """The last active deployment ended (superseded, rolled back or out of its range)."""

    @transition(
        field=status,
        source=[S.APPROVED, S.DEPLOYED, S.ACTIVE],
        target=S.SUSPENDED,
        permission=may(Perm.SUSPEND_ACTIVITY),
        custom=_admin(
            "Suspend (emergency)",
            "suspend",
            "activity_suspend",
            "RequiredReasonForm",
            "Suspended: every active deployment has ended.",
        ),
    )
    def suspend(self):
        """Emergency stop: every live deployment ends with it."""

    @transition(
        field=status,
        source=S.SUSPENDED,
        target=S.APPROVED,
        permission=may(Perm.SUSPEND_ACTIVITY),
        custom=_admin(
            "Reactivate",
            "reactivate",
            "activity_reactivate",
            "ReasonForm",
            "Reactivated: the activity is approved and can be deployed again.",
        ),
    )
    def reactivate(self):
        """Back to deployable; putting it live again is an explicit deploy."""

    @transition(
        field=status,
        source=[S.APPROVED, S.DEPLOYED, S.ACTIVE, S.SUSPENDED],
        target=S.RETIRED,
        permission=may(Perm.SUSPEND_ACTIVITY),
        custom=_admin("Retire", "retire", "activity_retire", "ReasonForm", "Retired."),
    )
    # A draft may be retired through the API too, but the admin offers deleting it instead (no
    # ``service``: no button), a draft having nothing live to end.
    @transition(
        field=status,
        source=S.DRAFT,
        target=S.RETIRED,
        permission=may(Perm.SUSPEND_ACTIVITY),
        custom={"label": "Retire"},
    )
    def retire(self):
        """For good: its deployments end and no transition leaves RETIRED."""


class DeploymentStatus(models.TextChoices):
    PENDING = "PENDING", "Pending (effective later)"
    ACTIVE = "ACTIVE", "Active"
    SUPERSEDED = "SUPERSEDED", "Superseded"
    ROLLED_BACK = "ROLLED_BACK", "Rolled back"
    SUSPENDED = "SUSPENDED", "Ended by suspension"
    ENDED = "ENDED", "Ended"


D = DeploymentStatus


def has_previous_deployment(deployment) -> bool:
    """A rollback needs the deployment this one superseded."""
    return deployment.previous_deployment_id is not None


class Deployment(FSMModelMixin, TenantScopedModel):
    """One activity version bound to an environment of a target tenant, for a date range.

    ``previous_deployment`` is the rollback chain. At most one ACTIVE deployment per
    (owner tenant, activity name, environment, target tenant): a partial unique index, so two
    concurrent deploys cannot both win.
    """

    lock_order = 20  # a child of its activity (ocx.core.locks)

    deployment_id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    activity = models.ForeignKey(Activity, on_delete=models.PROTECT, related_name="deployments")
    activity_name = models.CharField(max_length=200, editable=False)
    environment = models.CharField(max_length=10, choices=Environment.choices)
    target_tenant = models.ForeignKey("ocx.Tenant", on_delete=models.PROTECT, related_name="+")
    # Every deployment starts PENDING and goes live through ``activate`` (at once or on its date).
    status = FSMField(max_length=12, choices=DeploymentStatus.choices, default=D.PENDING, protected=True)
    effective_from = models.DateTimeField()
    effective_until = models.DateTimeField(null=True, blank=True)
    previous_deployment = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="superseded_by"
    )
    deployed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    deployment_notes = models.TextField(blank=True)
    deployed_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.TextField(blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    history = History()

    class Meta:
        db_table = "activity_deployments"
        ordering = ["-deployed_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "activity_name", "environment", "target_tenant"],
                condition=Q(status="ACTIVE"),
                name="deployment_one_active_per_slot",
            ),
            models.CheckConstraint(
                condition=Q(effective_until__isnull=True) | Q(effective_until__gt=models.F("effective_from")),
                name="deployment_effective_range",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "activity", "-deployed_at"], name="deployment_activity_idx"),
            models.Index(fields=["status", "effective_from"], name="deployment_due_idx", condition=Q(status="PENDING")),
            models.Index(fields=["tenant", "environment", "status"], name="deployment_env_idx"),
        ]

    def __str__(self) -> str:
        # Named by what is deployed (activity name and version) and where; never a raw id.
        return f"{self.activity} → {self.environment} / {self.target_tenant} ({self.get_status_display()})"

    # --- lifecycle (in memory only; registry.services does the rest) -------------------------
    def _close(self, *, by, reason: str, at=None) -> None:
        self.ended_at = at or timezone.now()
        self.ended_by = by if getattr(by, "pk", None) is not None else None
        self.end_reason = reason

    @transition(field=status, source=D.PENDING, target=D.ACTIVE, custom={"label": "Activate"})
    def activate(self, *, previous=None):
        """Live in its slot; ``previous`` is the deployment it superseded (the rollback chain)."""
        if previous is not None:
            self.previous_deployment = previous

    @transition(field=status, source=D.ACTIVE, target=D.SUPERSEDED, custom={"label": "Supersede"})
    def supersede(self, *, by, reason: str, at=None):
        """Another deployment went live in its slot."""
        self._close(by=by, reason=reason, at=at)

    @transition(
        field=status,
        source=D.ACTIVE,
        target=D.ROLLED_BACK,
        conditions=[has_previous_deployment],
        permission=may_deploy,
        custom=_admin(
            "Roll back",
            "rollback",
            "deployment_rollback",
            "RollbackReasonForm",
            "Rolled back: the previous deployment is active again.",
            id_kwarg="deployment_id",
        ),
    )
    def roll_back(self, *, by, reason: str, at=None):
        """Ended so that the deployment it superseded is active again."""
        self._close(by=by, reason=reason, at=at)

    @transition(field=status, source=D.SUPERSEDED, target=D.ACTIVE, custom={"label": "Reactivate (rollback)"})
    def reactivate(self):
        """The rollback target: live again, as if it had never ended."""
        self.ended_at = None
        self.ended_by = None
        self.end_reason = ""

    @transition(field=status, source=[D.ACTIVE, D.PENDING], target=D.SUSPENDED, custom={"label": "End by suspension"})
    def end_by_suspension(self, *, by, reason: str, at=None):
        """Its activity was suspended."""
        self._close(by=by, reason=reason, at=at)

    @transition(field=status, source=[D.ACTIVE, D.PENDING], target=D.ENDED, custom={"label": "End"})
    def end(self, *, by, reason: str, at=None):
        """Its range is over, its activity retired, or it came due for an activity no longer deployable."""
        self._close(by=by, reason=reason, at=at)


class ExecutionOutcome(models.TextChoices):
    SUCCESS = "SUCCESS", "Success"
    FAILURE = "FAILURE", "Failure"


class Execution(TenantScopedModel):
    """One run of a deployed activity by an agent; links to its evidence."""

    execution_id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    activity = models.ForeignKey(Activity, on_delete=models.PROTECT, related_name="executions")
    deployment = models.ForeignKey(Deployment, on_delete=models.PROTECT, related_name="executions")
    agent_id = models.CharField(max_length=200, blank=True)
    outcome = models.CharField(max_length=10, choices=ExecutionOutcome.choices)
    duration_ms = models.PositiveIntegerField()
    evidence_ref = models.CharField(max_length=500, blank=True)
    error_message = models.TextField(blank=True)
    executed_at = models.DateTimeField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        db_table = "activity_executions"
        ordering = ["-executed_at"]
        indexes = [models.Index(fields=["activity", "-executed_at"], name="execution_recent_idx")]

    def __str__(self) -> str:
        when = f" at {self.executed_at:%Y-%m-%d %H:%M:%S %Z}" if self.executed_at else ""
        return f"{self.activity} run{when} ({self.get_outcome_display()})"


class ExecutionStats(models.Model):
    """Running totals per activity, updated in the same transaction as each execution insert
    (``UPDATE … SET total = total + 1``), so ``GET …/stats`` reads one row at any volume."""

    activity = models.OneToOneField(
        Activity, primary_key=True, on_delete=models.CASCADE, related_name="execution_stats"
    )
    total_executions = models.BigIntegerField(default=0)
    successful_executions = models.BigIntegerField(default=0)
    failed_executions = models.BigIntegerField(default=0)
    total_duration_ms = models.BigIntegerField(default=0)
    last_execution_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "activity_execution_stats"

    def __str__(self) -> str:
        return f"stats of {self.activity}: {self.total_executions} executions"


class ApprovalStatus(models.TextChoices):
    PENDING = "PENDING", "Pending"
    APPROVED = "APPROVED", "Approved"
    REJECTED = "REJECTED", "Rejected"
    VOID = "VOID", "Void (round ended by a rejection)"


A = ApprovalStatus
#: Deciding an approval from its own page: ``approval_decide(approval_id=…, approval_status=<target>)``.
DECIDE = {"id_kwarg": "approval_id", "target_kwarg": "approval_status"}


class Approval(FSMModelMixin, TenantScopedModel):
    lock_order = 20  # a child of its activity (ocx.core.locks)

    approval_id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    activity = models.ForeignKey(Activity, on_delete=models.PROTECT, related_name="approvals")
    review_round = models.PositiveIntegerField()
    approval_type = models.CharField(max_length=12, choices=ApprovalType.choices)
    approver_id = models.CharField(max_length=200, blank=True, help_text="Who was asked (username or e-mail).")
    approver_role = models.CharField(max_length=200, blank=True)
    comments = models.TextField(blank=True, help_text="The request's comments.")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)
    approval_status = FSMField(max_length=10, choices=ApprovalStatus.choices, default=A.PENDING, protected=True)
    decision_comments = models.TextField(blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    history = History()

    class Meta:
        db_table = "activity_approvals"
        ordering = ["requested_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["activity", "review_round", "approval_type"], name="approval_one_per_type_per_round"
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "approval_status", "approval_type"], name="approval_pending_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_approval_type_display()} approval of {self.activity} ({self.get_approval_status_display()})"

    # --- lifecycle (in memory only; registry.services does the rest) -------------------------
    def _decided(self, *, by, comments: str, at=None) -> None:
        self.decided_by = by
        self.decision_comments = comments
        self.decided_at = at or timezone.now()

    @transition(
        field=approval_status,
        source=A.PENDING,
        target=A.APPROVED,
        permission=may_decide,
        custom=_admin("Approve", "approve", "approval_decide", "CommentsForm", "Decision recorded.", **DECIDE),
    )
    def grant(self, *, by, comments: str = "", at=None):
        """Granted by an approver of its type (never the activity's creator)."""
        self._decided(by=by, comments=comments, at=at)

    @transition(
        field=approval_status,
        source=A.PENDING,
        target=A.REJECTED,
        permission=may_decide,
        custom=_admin("Reject", "reject", "approval_decide", "CommentsForm", "Decision recorded.", **DECIDE),
    )
    def reject(self, *, by, comments: str = "", at=None):
        """Rejected: the round ends and the activity goes back to a draft."""
        self._decided(by=by, comments=comments, at=at)

    @transition(field=approval_status, source=A.PENDING, target=A.VOID, custom={"label": "Void"})
    def void(self, *, at=None):
        """Still pending when another approval of its round was rejected."""
        self.decided_at = at or timezone.now()


class ActivityVersion(TenantScopedModel):
    """Version history of an activity name: one row per version, with what changed."""

    version_id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    activity = models.OneToOneField(Activity, on_delete=models.PROTECT, related_name="version_record")
    previous_activity = models.ForeignKey(Activity, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=200)
    version = models.CharField(max_length=64)
    version_type = models.CharField(max_length=5, choices=VersionType.choices, blank=True)
    change_summary = models.TextField(blank=True)
    breaking_changes = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "activity_versions"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["tenant", "name"], name="version_name_idx")]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


class ActivityConflict(TenantScopedModel):
    """A conflict found while merging several source documents, and how it was resolved."""

    conflict_id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    activity = models.ForeignKey(Activity, on_delete=models.PROTECT, related_name="conflicts")
    conflict_type = models.CharField(max_length=100, blank=True)
    description = models.TextField(blank=True)
    documents = models.JSONField(default=list)
    chosen_path = models.TextField()
    justification = models.TextField()
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    resolved_at = models.DateTimeField(auto_now_add=True)

    history = History()

    class Meta:
        db_table = "activity_conflicts"
        ordering = ["-resolved_at"]

    def __str__(self) -> str:
        return f"{self.conflict_type or 'conflict'} in {self.activity}"
