"""Registry API shapes: strict input serializers (unknown fields refused) and output serializers
with the seed's field names."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from rest_framework import serializers

from ocx.core.api.serializers import InputSerializer
from registry.models import (
    Activity,
    ActivityConflict,
    ActivityVersion,
    Approval,
    ApprovalStatus,
    ApprovalType,
    Deployment,
    Environment,
    Execution,
    ExecutionOutcome,
    VersionType,
)
from registry.services.activities import EBCL_SOURCE_MAX_LENGTH

# The seed's bodies name who acts (created_by, deployed_by, …). OCX records the authenticated
# user instead — a client cannot claim to be someone else — but accepts the fields so the
# seed's requests work unchanged.
_DECLARED_ACTOR = {
    "required": False,
    "allow_blank": True,
    "max_length": 200,
    "help_text": "Informational: the authenticated user is recorded.",
}


# Semantic Versioning 2.0.0 (semver.org's expression, ASCII digits only): what the service's
# ``semver.Version.is_valid`` accepts (it answers anything else 400 VALIDATION_ERROR), published
# in the schema.
SEMVER_PATTERN = (
    r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)"
    r"(-(0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*)(\.(0|[1-9][0-9]*|[0-9]*[a-zA-Z-][0-9a-zA-Z-]*))*)?"
    r"(\+[0-9a-zA-Z-]+(\.[0-9a-zA-Z-]+)*)?$"
)


@extend_schema_field(
    {
        "type": "string",
        "pattern": SEMVER_PATTERN,
        "maxLength": 64,
        "description": "A semantic version, MAJOR.MINOR.PATCH[-prerelease][+build].",
    }
)
class SemverField(serializers.CharField):
    def __init__(self, **kwargs):
        super().__init__(max_length=64, **kwargs)


# The governed text itself may be long (every other free-text field is capped at
# ocx.core.api.serializers.TEXT_MAX_LENGTH); documented in the README, published as maxLength.
# The services enforce the same cap for every other path (the admin's forms): one constant.
_EBCL_SOURCE = {
    "max_length": EBCL_SOURCE_MAX_LENGTH,
    "help_text": f"The EBCL text (at most {EBCL_SOURCE_MAX_LENGTH:,} characters).",
}


class ActivityCreateInput(InputSerializer):
    name = serializers.CharField(max_length=200)
    version = SemverField()
    ebcl_source = serializers.CharField(**_EBCL_SOURCE)
    owner = serializers.CharField(max_length=200)
    authority = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    category = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    created_by = serializers.CharField(**_DECLARED_ACTOR)


class ActivityUpdateInput(InputSerializer):
    name = serializers.CharField(max_length=200, required=False)
    version = SemverField(required=False)
    ebcl_source = serializers.CharField(required=False, **_EBCL_SOURCE)
    owner = serializers.CharField(max_length=200, required=False)
    authority = serializers.CharField(max_length=300, required=False, allow_blank=True)
    description = serializers.CharField(required=False, allow_blank=True)
    category = serializers.CharField(max_length=100, required=False, allow_blank=True)


class RequestApprovalInput(InputSerializer):
    approval_type = serializers.ChoiceField(
        choices=ApprovalType.choices, required=False, help_text="Omit to request every required type."
    )
    approver_id = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    approver_role = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    comments = serializers.CharField(required=False, allow_blank=True, default="")


class DecideInput(InputSerializer):
    approval_status = serializers.ChoiceField(choices=[ApprovalStatus.APPROVED, ApprovalStatus.REJECTED])
    comments = serializers.CharField(required=False, allow_blank=True, default="")


class DeployInput(InputSerializer):
    environment = serializers.ChoiceField(choices=Environment.choices)
    tenant_id = serializers.CharField(
        max_length=64,
        required=False,
        allow_blank=True,
        help_text="Target tenant slug; defaults to the request's tenant.",
    )
    deployed_by = serializers.CharField(**_DECLARED_ACTOR)
    deployment_notes = serializers.CharField(required=False, allow_blank=True, default="")
    effective_from = serializers.DateTimeField(required=False)
    effective_until = serializers.DateTimeField(required=False, allow_null=True)


class RollbackInput(InputSerializer):
    rollback_reason = serializers.CharField(required=False, allow_blank=True, default="")
    rolled_back_by = serializers.CharField(**_DECLARED_ACTOR)


class SuspendInput(InputSerializer):
    reason = serializers.CharField()
    suspended_by = serializers.CharField(**_DECLARED_ACTOR)


@extend_schema_serializer(component_name="ActivityReasonInput")  # workflow.engine has a ReasonInput too
class ReasonInput(InputSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class NewVersionInput(InputSerializer):
    version_type = serializers.ChoiceField(choices=VersionType.choices)
    change_summary = serializers.CharField()
    breaking_changes = serializers.ListField(
        child=serializers.CharField(max_length=500), required=False, default=list, max_length=100
    )
    ebcl_source = serializers.CharField(required=False, **_EBCL_SOURCE)
    description = serializers.CharField(required=False, allow_blank=True)
    created_by = serializers.CharField(**_DECLARED_ACTOR)


class ExecutionInput(InputSerializer):
    outcome = serializers.ChoiceField(choices=ExecutionOutcome.choices)
    duration_ms = serializers.IntegerField(min_value=0, max_value=2_147_483_647)
    evidence_ref = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    error_message = serializers.CharField(required=False, allow_blank=True, default="")
    executed_at = serializers.DateTimeField(required=False)
    deployment_id = serializers.UUIDField(required=False)
    agent_id = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class ConflictInput(InputSerializer):
    documents = serializers.ListField(child=serializers.JSONField(), min_length=1)
    chosen_path = serializers.CharField()
    justification = serializers.CharField()
    conflict_type = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")


# --- output -------------------------------------------------------------------------------

_username = {"slug_field": "username", "read_only": True, "allow_null": True}  # null: not decided yet, or no user


class ActivitySerializer(serializers.ModelSerializer):
    created_by = serializers.SlugRelatedField(**_username)
    tenant = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Activity
        fields = [
            "activity_id",
            "name",
            "version",
            "ebcl_source",
            "owner",
            "authority",
            "created_by",
            "description",
            "category",
            "status",
            "review_round",
            "tenant",
            "created_at",
            "updated_at",
        ]


class ActivityListItemSerializer(ActivitySerializer):
    """An activity in a list: everything but the EBCL source (up to 200,000 characters), which
    the detail (``GET /api/v1/activities/{activity_id}``) carries."""

    class Meta(ActivitySerializer.Meta):
        fields = [name for name in ActivitySerializer.Meta.fields if name != "ebcl_source"]


class ApprovalSerializer(serializers.ModelSerializer):
    activity_id = serializers.UUIDField(source="activity.activity_id", read_only=True)
    activity_name = serializers.CharField(source="activity.name", read_only=True)
    activity_version = serializers.CharField(source="activity.version", read_only=True)
    requested_by = serializers.SlugRelatedField(**_username)
    decided_by = serializers.SlugRelatedField(**_username)

    class Meta:
        model = Approval
        fields = [
            "approval_id",
            "activity_id",
            "activity_name",
            "activity_version",
            "review_round",
            "approval_type",
            "approver_id",
            "approver_role",
            "comments",
            "requested_by",
            "requested_at",
            "approval_status",
            "decision_comments",
            "decided_by",
            "decided_at",
        ]


class DeploymentSerializer(serializers.ModelSerializer):
    activity_id = serializers.UUIDField(source="activity.activity_id", read_only=True)
    version = serializers.CharField(source="activity.version", read_only=True)
    tenant_id = serializers.CharField(source="target_tenant.slug", read_only=True)
    previous_deployment_id = serializers.UUIDField(read_only=True)
    deployed_by = serializers.SlugRelatedField(**_username)
    ended_by = serializers.SlugRelatedField(**_username)

    class Meta:
        model = Deployment
        fields = [
            "deployment_id",
            "activity_id",
            "activity_name",
            "version",
            "environment",
            "tenant_id",
            "status",
            "effective_from",
            "effective_until",
            "previous_deployment_id",
            "deployed_by",
            "deployment_notes",
            "deployed_at",
            "ended_at",
            "ended_by",
            "end_reason",
        ]


class ExecutionSerializer(serializers.ModelSerializer):
    activity_id = serializers.UUIDField(read_only=True)
    deployment_id = serializers.UUIDField(read_only=True)

    class Meta:
        model = Execution
        fields = [
            "execution_id",
            "activity_id",
            "deployment_id",
            "agent_id",
            "outcome",
            "duration_ms",
            "evidence_ref",
            "error_message",
            "executed_at",
        ]


class StatsSerializer(serializers.Serializer):
    total_executions = serializers.IntegerField()
    successful_executions = serializers.IntegerField()
    failed_executions = serializers.IntegerField()
    avg_duration_ms = serializers.IntegerField(allow_null=True)
    last_execution_at = serializers.DateTimeField(allow_null=True)


class VersionSerializer(serializers.ModelSerializer):
    activity_id = serializers.UUIDField(source="activity.activity_id", read_only=True)
    status = serializers.CharField(source="activity.status", read_only=True)
    previous_activity_id = serializers.UUIDField(read_only=True)
    previous_version = serializers.CharField(source="previous_activity.version", read_only=True, default=None)
    created_by = serializers.SlugRelatedField(**_username)

    class Meta:
        model = ActivityVersion
        fields = [
            "version_id",
            "activity_id",
            "name",
            "version",
            "status",
            "version_type",
            "change_summary",
            "breaking_changes",
            "previous_activity_id",
            "previous_version",
            "created_by",
            "created_at",
        ]


class ConflictSerializer(serializers.ModelSerializer):
    activity_id = serializers.UUIDField(read_only=True)
    resolved_by = serializers.SlugRelatedField(**_username)

    class Meta:
        model = ActivityConflict
        fields = [
            "conflict_id",
            "activity_id",
            "conflict_type",
            "description",
            "documents",
            "chosen_path",
            "justification",
            "resolved_by",
            "resolved_at",
        ]
