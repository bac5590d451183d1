"""Input and output shapes of the runs API (snake_case; the seed's RunResult, ActivityEvent and
ActivitySummary fields first)."""

from __future__ import annotations

from rest_framework import serializers

from ocx.core.api.serializers import InputSerializer
from runs.constraints import MEMBER_CONSTRAINTS_SCHEMA, WORK_UNIT_CONSTRAINTS_SCHEMA
from runs.models import (
    Execution,
    Run,
    RunStatus,
    Workspace,
    WorkspaceMember,
    WorkspaceRole,
    WorkspaceWorkUnit,
    WorkUnitType,
)

# The registry's environments, with its labels (one enum in the OpenAPI schema).
ENVIRONMENTS = [("DEV", "Development"), ("STAGING", "Staging"), ("PROD", "Production")]


class ErrorSerializer(serializers.Serializer):
    """The one error envelope (DESIGN.md)."""

    success = serializers.BooleanField(default=False)
    error_code = serializers.CharField()
    message = serializers.CharField()
    details = serializers.DictField()


class AnyJSONField(serializers.JSONField):
    """Any JSON value (an object, usually)."""


# --- runs -------------------------------------------------------------------------------------
class RunCreateInput(InputSerializer):
    input = AnyJSONField(required=False, allow_null=True, help_text="The run's input (size-capped).")
    work_unit_type = serializers.ChoiceField(
        choices=WorkUnitType.choices,
        required=False,
        help_text="atomic (a registry activity) or composite (a workflow template). Omitted: atomic when a "
        "registry activity has this id or name, else composite when a workflow template does.",
    )
    environment = serializers.ChoiceField(choices=ENVIRONMENTS, default="PROD")
    execution = serializers.ChoiceField(
        choices=Execution.choices,
        required=False,
        help_text="in_process (default when a handler is registered for the activity) or agent; a composite "
        "work unit always runs as workflow.",
    )
    priority = serializers.IntegerField(default=0, min_value=-100, max_value=100, help_text="Higher is claimed first.")
    idempotency_key = serializers.CharField(required=False, allow_blank=True, max_length=200)
    workspace_id = serializers.UUIDField(required=False, allow_null=True)
    max_attempts = serializers.IntegerField(required=False, min_value=1, max_value=20)
    schedule_to_start_timeout = serializers.IntegerField(
        required=False, min_value=0, max_value=30 * 86400, help_text="Seconds a run may wait in pending; 0: no limit."
    )
    start_to_close_timeout = serializers.IntegerField(
        required=False, min_value=1, max_value=7 * 86400, help_text="Seconds one attempt may take."
    )


class RunSerializer(serializers.ModelSerializer):
    """The seed's RunResult (id, status, started_at, completed_at, input, output, error,
    error_type) and what OCX adds: attempts, the worker, the duration, the work unit and the
    activity version and deployment it ran."""

    organization_id = serializers.SerializerMethodField()
    user_id = serializers.IntegerField(read_only=True)
    activity_id = serializers.UUIDField(read_only=True, allow_null=True)
    deployment_id = serializers.UUIDField(read_only=True, allow_null=True)
    workspace_id = serializers.UUIDField(read_only=True, allow_null=True)
    error = serializers.SerializerMethodField()
    error_type = serializers.SerializerMethodField()
    worker_id = serializers.SerializerMethodField()

    class Meta:
        model = Run
        fields = [
            "id", "status", "started_at", "completed_at", "input", "output", "error", "error_type",
            "attempt", "max_attempts", "worker_id", "duration_ms",
            "work_unit_id", "work_unit_type", "work_unit_name", "activity_id", "activity_version", "deployment_id",
            "environment", "execution", "priority", "workspace_id", "organization_id", "user_id", "user_name",
            "idempotency_key", "cancel_requested", "lease_expires_at", "heartbeat_at", "deadline",
            "schedule_to_start_timeout", "start_to_close_timeout", "execution_id", "workflow_instance_ref",
            "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields

    def get_organization_id(self, run) -> str:
        tenant = self.context.get("tenant")
        return tenant.slug if tenant is not None and tenant.pk == run.tenant_id else run.tenant.slug

    def get_error(self, run) -> str | None:
        return run.error or None

    def get_error_type(self, run) -> str | None:
        return run.error_type or None

    def get_worker_id(self, run) -> str | None:
        return run.worker_id or None


_DATETIME = serializers.DateTimeField()


def _moment(value):
    return None if value is None else _DATETIME.to_representation(value)


def _uuid(value):
    return None if value is None else str(value)


def run_document(run: Run, *, tenant=None) -> dict:
    """``RunSerializer(run, context={"tenant": tenant}).data``, built directly: a generic
    ModelSerializer builds a field object per value, a third of a run creation's view time.
    tests/runs/test_query_counts.py checks both give the same document."""
    return {
        "id": str(run.pk),
        "status": run.status,
        "started_at": _moment(run.started_at),
        "completed_at": _moment(run.completed_at),
        "input": run.input,
        "output": run.output,
        "error": run.error or None,
        "error_type": run.error_type or None,
        "attempt": run.attempt,
        "max_attempts": run.max_attempts,
        "worker_id": run.worker_id or None,
        "duration_ms": run.duration_ms,
        "work_unit_id": run.work_unit_id,
        "work_unit_type": run.work_unit_type,
        "work_unit_name": run.work_unit_name,
        "activity_id": _uuid(run.activity_id),
        "activity_version": run.activity_version,
        "deployment_id": _uuid(run.deployment_id),
        "environment": run.environment,
        "execution": run.execution,
        "priority": run.priority,
        "workspace_id": _uuid(run.workspace_id),
        "organization_id": tenant.slug if tenant is not None and tenant.pk == run.tenant_id else run.tenant.slug,
        "user_id": run.user_id,
        "user_name": run.user_name,
        "idempotency_key": run.idempotency_key,
        "cancel_requested": run.cancel_requested,
        "lease_expires_at": _moment(run.lease_expires_at),
        "heartbeat_at": _moment(run.heartbeat_at),
        "deadline": _moment(run.deadline),
        "schedule_to_start_timeout": run.schedule_to_start_timeout,
        "start_to_close_timeout": run.start_to_close_timeout,
        "execution_id": _uuid(run.execution_id),
        "workflow_instance_ref": run.workflow_instance_ref,
        "created_at": _moment(run.created_at),
        "updated_at": _moment(run.updated_at),
    }


class RunPageSerializer(serializers.Serializer):
    results = RunSerializer(many=True)
    next_cursor = serializers.CharField(allow_null=True, help_text="Pass as ?cursor= for the next page.")
    has_more = serializers.BooleanField()
    limit = serializers.IntegerField()


class CancelInput(InputSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000)


# --- agents -----------------------------------------------------------------------------------
class ClaimInput(InputSerializer):
    worker_id = serializers.CharField(max_length=200)
    work_unit = serializers.CharField(
        required=False, max_length=200, help_text="One work unit (name or activity UUID)."
    )
    topics = serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, max_length=50, help_text="Work unit names."
    )
    max_runs = serializers.IntegerField(default=1, min_value=1, max_value=100)
    lease_seconds = serializers.IntegerField(required=False, min_value=5, max_value=3600)
    wait_seconds = serializers.FloatField(default=0, min_value=0, max_value=30, help_text="Long poll, at most 30 s.")


class ClaimedRunSerializer(serializers.ModelSerializer):
    """What an agent needs to execute a claimed run."""

    activity_id = serializers.UUIDField(read_only=True, allow_null=True)
    deployment_id = serializers.UUIDField(read_only=True, allow_null=True)
    details = serializers.JSONField(source="heartbeat_details", read_only=True, allow_null=True,
                                    help_text="The checkpoint a previous attempt left (heartbeat details).")  # fmt: skip

    class Meta:
        model = Run
        fields = [
            "id", "work_unit_id", "work_unit_name", "activity_id", "activity_version", "deployment_id",
            "environment", "input", "details", "attempt", "max_attempts", "lease_token", "lease_expires_at",
            "lease_seconds", "start_to_close_timeout", "priority", "user_name", "created_at",
        ]  # fmt: skip
        read_only_fields = fields


def claimed_run_data(run: Run) -> dict:
    """``ClaimedRunSerializer(run).data``, built directly: a 50-run claim answers 50 of these, and
    the generic serializer (a field object per value) was a tenth of that request's time.
    tests/runs/test_query_counts.py checks both give the same document."""

    return {
        "id": str(run.pk),
        "work_unit_id": run.work_unit_id,
        "work_unit_name": run.work_unit_name,
        "activity_id": str(run.activity_id) if run.activity_id else None,
        "activity_version": run.activity_version,
        "deployment_id": str(run.deployment_id) if run.deployment_id else None,
        "environment": run.environment,
        "input": run.input,
        "details": run.heartbeat_details,
        "attempt": run.attempt,
        "max_attempts": run.max_attempts,
        "lease_token": str(run.lease_token) if run.lease_token else None,
        "lease_expires_at": _moment(run.lease_expires_at),
        "lease_seconds": run.lease_seconds,
        "start_to_close_timeout": run.start_to_close_timeout,
        "priority": run.priority,
        "user_name": run.user_name,
        "created_at": _moment(run.created_at),
    }


class ClaimResultSerializer(serializers.Serializer):
    runs = ClaimedRunSerializer(many=True)


class LeaseInput(InputSerializer):
    lease_token = serializers.CharField(max_length=64)
    attempt = serializers.IntegerField(min_value=1)


class HeartbeatInput(LeaseInput):
    details = AnyJSONField(required=False, allow_null=True, help_text="A checkpoint the next attempt receives.")
    lease_seconds = serializers.IntegerField(required=False, min_value=5, max_value=3600)


class HeartbeatResultSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=RunStatus.choices)
    attempt = serializers.IntegerField()
    cancel_requested = serializers.BooleanField()
    lease_expires_at = serializers.DateTimeField()


class CompleteInput(LeaseInput):
    output = AnyJSONField(required=False, allow_null=True)


class FailInput(LeaseInput):
    error = serializers.CharField(max_length=10_000)
    error_type = serializers.CharField(required=False, allow_blank=True, max_length=200)
    retryable = serializers.BooleanField(default=False)
    retry_after = serializers.IntegerField(required=False, min_value=0, max_value=86400, help_text="Seconds.")


# --- activity ---------------------------------------------------------------------------------
class RunActivityEventSerializer(serializers.Serializer):
    """The seed's ActivityEventResponse."""

    id = serializers.CharField()
    type = serializers.ChoiceField(choices=["run", "delegation", "error", "completion"])
    user_id = serializers.IntegerField()
    user_name = serializers.CharField()
    work_unit_id = serializers.CharField()
    work_unit_name = serializers.CharField()
    timestamp = serializers.DateTimeField()
    details = serializers.DictField(allow_null=True)


class ActivitySummarySerializer(serializers.Serializer):
    """The seed's ActivitySummaryResponse (plus cancelled, and the start of the window)."""

    period_hours = serializers.IntegerField()
    total_runs = serializers.IntegerField()
    completed = serializers.IntegerField()
    failed = serializers.IntegerField()
    pending = serializers.IntegerField()
    running = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    success_rate = serializers.FloatField()
    since = serializers.DateTimeField(help_text="Runs created since this instant (the top of an hour).")


# --- workspaces -------------------------------------------------------------------------------
class WorkspaceInput(InputSerializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")


class WorkspaceUpdateInput(InputSerializer):
    name = serializers.CharField(required=False, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)


class WorkspaceSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", read_only=True)
    archived = serializers.BooleanField(source="is_archived", read_only=True)
    member_count = serializers.SerializerMethodField()
    work_unit_count = serializers.SerializerMethodField()

    class Meta:
        model = Workspace
        fields = ["id", "name", "description", "archived", "archived_at", "created_by", "member_count",
                  "work_unit_count", "created_at", "updated_at"]  # fmt: skip
        read_only_fields = fields

    def _counts(self, workspace) -> dict:
        return self.context.get("counts", {}).get(workspace.pk, {})

    def get_member_count(self, workspace) -> int | None:
        return self._counts(workspace).get("member_count")

    def get_work_unit_count(self, workspace) -> int | None:
        return self._counts(workspace).get("work_unit_count")


class ArchiveInput(InputSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


def _constraints_help(schema: dict) -> str:
    return "JSON object, schema: " + ", ".join(schema["properties"]) + " (see the README, Runs)."


class MemberAddInput(InputSerializer):
    user_id = serializers.CharField(max_length=150, help_text="A user of the tenant: id or username.")
    role = serializers.ChoiceField(choices=WorkspaceRole.choices, default=WorkspaceRole.MEMBER)
    constraints = AnyJSONField(required=False, allow_null=True, help_text=_constraints_help(MEMBER_CONSTRAINTS_SCHEMA))
    department = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    invited_by = serializers.CharField(required=False, allow_blank=True, help_text="Ignored: OCX records the caller.")


class MemberUpdateInput(InputSerializer):
    role = serializers.ChoiceField(choices=WorkspaceRole.choices, required=False)
    constraints = AnyJSONField(required=False, allow_null=True, help_text=_constraints_help(MEMBER_CONSTRAINTS_SCHEMA))
    department = serializers.CharField(required=False, allow_blank=True, max_length=200)


class MemberSerializer(serializers.ModelSerializer):
    workspace_id = serializers.UUIDField(read_only=True)
    user_id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    invited_by = serializers.SerializerMethodField()

    class Meta:
        model = WorkspaceMember
        fields = ["id", "workspace_id", "user_id", "username", "role", "constraints", "invited_by", "department",
                  "created_at", "updated_at"]  # fmt: skip
        read_only_fields = fields

    def get_invited_by(self, member) -> str | None:
        return member.invited_by.username if member.invited_by_id else None


class WorkUnitAddInput(InputSerializer):
    work_unit_id = serializers.CharField(max_length=200, help_text="A registry activity: UUID or name.")
    work_unit_type = serializers.ChoiceField(choices=WorkUnitType.choices, default=WorkUnitType.ATOMIC)
    delegation_id = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    constraints = AnyJSONField(
        required=False, allow_null=True, help_text=_constraints_help(WORK_UNIT_CONSTRAINTS_SCHEMA)
    )
    department = serializers.CharField(required=False, allow_blank=True, default="", max_length=200)
    added_by = serializers.CharField(required=False, allow_blank=True, help_text="Ignored: OCX records the caller.")


class WorkUnitSerializer(serializers.ModelSerializer):
    workspace_id = serializers.UUIDField(read_only=True)
    added_by = serializers.CharField(source="added_by.username", read_only=True)

    class Meta:
        model = WorkspaceWorkUnit
        fields = ["id", "workspace_id", "work_unit_id", "work_unit_type", "work_unit_name", "delegation_id",
                  "constraints", "added_by", "department", "created_at", "updated_at"]  # fmt: skip
        read_only_fields = fields
