"""Engine API shapes (snake_case, the one JSON form of a template for create/import/export)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ocx.core.api.serializers import InputSerializer
from workflow.engine.models import ActivityAttempt, ActivityInstance, Incident, WorkflowInstance, WorkflowTemplate


class EngineTemplateDefinitionInput(InputSerializer):
    """The template's JSON form (validated by the engine, which names the activity at fault)."""

    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    compensate_on_failure = serializers.BooleanField(required=False)
    default_context = serializers.DictField(required=False)
    phases = serializers.ListField(child=serializers.DictField())
    version = serializers.IntegerField(required=False)  # accepted from an export, ignored
    status = serializers.CharField(required=False)  # idem


class EngineTemplateOutput(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True)  # draft / published
    activity_count = serializers.SerializerMethodField()

    class Meta:
        model = WorkflowTemplate
        fields = [
            "id",
            "name",
            "version",
            "description",
            "status",
            "compensate_on_failure",
            "created_at",
            "published_at",
            "activity_count",
        ]

    @extend_schema_field({"type": "integer", "nullable": True})
    def get_activity_count(self, obj) -> int | None:
        return getattr(obj, "activity_count", None)


class EngineStartInput(InputSerializer):
    template_id = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    template_name = serializers.CharField(required=False, max_length=200)
    context = serializers.DictField(required=False)


class EngineReasonInput(InputSerializer):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class EngineSkipInput(InputSerializer):
    reason = serializers.CharField()


class EngineCompleteInput(InputSerializer):
    result = serializers.DictField(required=False, default=dict)


class EngineRetryInput(InputSerializer):
    activity_ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1), required=False, max_length=1000
    )
    reason = serializers.CharField(required=False, allow_blank=True, default="")


class EngineIncidentRetryInput(InputSerializer):
    error_type = serializers.CharField(required=False)
    message = serializers.CharField(required=False)
    template_id = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)


class EngineAttemptOutput(serializers.ModelSerializer):
    class Meta:
        model = ActivityAttempt
        fields = ["number", "started_at", "finished_at", "outcome", "error_type", "error"]


class EngineActivityOutput(serializers.ModelSerializer):
    state = serializers.CharField(
        read_only=True
    )  # pending/scheduled/running/waiting/completed/failed/skipped/cancelled
    key = serializers.CharField(source="activity_template.key")
    name = serializers.CharField(source="activity_template.name")
    phase = serializers.CharField(source="activity_template.phase.key")
    handler_name = serializers.CharField(source="activity_template.handler_name")
    manual = serializers.BooleanField(source="activity_template.manual")
    attempts = EngineAttemptOutput(many=True, read_only=True)

    class Meta:
        model = ActivityInstance
        fields = [
            "id", "instance_id", "parent_activity_id", "key", "name", "phase", "handler_name", "manual",
            "execution_mode", "state", "item_index", "item", "retry_count", "last_error", "last_error_type",
            "result", "task_id", "run_id", "skip_reason", "children_total", "children_done", "dispatch_deadline",
            "attempt_deadline", "due_at", "escalated_at", "started_at", "completed_at", "compensated_at",
            "compensation_error", "attempts",
        ]  # fmt: skip


class EngineInstanceOutput(serializers.ModelSerializer):
    state = serializers.CharField(read_only=True)  # pending/running/completed/failed/cancelled/compensating/compensated
    template_name = serializers.CharField(source="template.name")
    template_version = serializers.IntegerField(source="template.version")

    class Meta:
        model = WorkflowInstance
        fields = [
            "id",
            "template_id",
            "template_name",
            "template_version",
            "state",
            "remaining",
            "error",
            "run_id",
            "created_at",
            "started_at",
            "finished_at",
        ]


class EngineInstanceDetailOutput(EngineInstanceOutput):
    phases = serializers.SerializerMethodField()

    class Meta(EngineInstanceOutput.Meta):
        fields = [*EngineInstanceOutput.Meta.fields, "context", "phases"]

    def get_phases(self, inst) -> list[dict]:
        phases: dict[str, dict] = {}
        for act in inst.activities.all():
            phase = act.activity_template.phase
            entry = phases.setdefault(
                phase.key,
                {
                    "key": phase.key,
                    "name": phase.name,
                    "order": phase.order,
                    "execution_mode": phase.execution_mode,
                    "fan_out_over": phase.fan_out_over,
                    "activities": [],
                },
            )
            entry["activities"].append(EngineActivityOutput(act).data)
        return sorted(phases.values(), key=lambda p: p["order"])


class EngineIncidentOutput(serializers.ModelSerializer):
    activity_key = serializers.CharField(source="activity.instance_id")

    class Meta:
        model = Incident
        fields = [
            "id",
            "workflow_id",
            "activity_id",
            "activity_key",
            "error_type",
            "message",
            "attempts",
            "created_at",
            "resolved_at",
            "resolution",
        ]


class EngineIncidentGroupOutput(serializers.Serializer):
    error_type = serializers.CharField()
    message = serializers.CharField()
    count = serializers.IntegerField()
    instances = serializers.IntegerField()
    first_seen = serializers.DateTimeField()
    last_seen = serializers.DateTimeField()


class EngineIncidentOverviewOutput(serializers.Serializer):
    """``GET /incidents``: one object, not a page — every group, and the newest incidents."""

    groups = EngineIncidentGroupOutput(many=True, help_text="By error type and message, the largest first.")
    incidents = EngineIncidentOutput(many=True, help_text="The newest 100 matching incidents, newest first.")


class EngineTimelineEventOutput(serializers.Serializer):
    id = serializers.IntegerField()
    type = serializers.CharField()
    title = serializers.CharField()
    timestamp = serializers.DateTimeField()
    entity_type = serializers.CharField()
    entity_id = serializers.CharField()
    payload = serializers.JSONField(source="event_metadata")
