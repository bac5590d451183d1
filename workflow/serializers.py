"""Input and output shapes of the workflow API (seed 003's field names, snake_case)."""

from __future__ import annotations

from rest_framework import serializers

from ocx.core import fsm
from ocx.core.api.params import INT32_MAX, INT64_MAX
from ocx.core.api.serializers import InputSerializer
from workflow.models import ActionPlan, SLARecord, Task, TaskPriority


# --- inputs -------------------------------------------------------------------------------
class TaskCreateInput(InputSerializer):
    title = serializers.CharField(max_length=300)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    task_type = serializers.CharField(max_length=64, required=False, default="general")
    service_area = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    # Plain strings (validated by the service): a ChoiceField would collide in the OpenAPI
    # enum names with the event spine's own "priority".
    priority = serializers.CharField(
        required=False, default=TaskPriority.MEDIUM, help_text="low, medium, high, critical"
    )
    assigned_to = serializers.CharField(required=False, allow_null=True, allow_blank=True, help_text="Username")
    due_date = serializers.DateTimeField(required=False, allow_null=True)
    action_plan_id = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=INT64_MAX)
    metadata = serializers.DictField(required=False, default=dict)

    def validate_priority(self, value):
        if value not in TaskPriority.values:
            raise serializers.ValidationError(f"Unknown value {value!r}; allowed: {', '.join(TaskPriority.values)}.")
        return value


class TransitionInput(InputSerializer):
    target_state = serializers.CharField(max_length=32)
    context = serializers.DictField(required=False, default=dict)
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class PlanTransitionInput(InputSerializer):
    context = serializers.DictField(required=False, default=dict)
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class ActionPlanCreateInput(InputSerializer):
    title = serializers.CharField(max_length=300)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    goals = serializers.ListField(child=serializers.CharField(max_length=500), required=False, default=list)
    metadata = serializers.DictField(required=False, default=dict)


class SLAConfigInput(InputSerializer):
    service_area = serializers.CharField(max_length=64)
    task_type = serializers.CharField(max_length=64)
    target_minutes = serializers.IntegerField(min_value=1, max_value=INT32_MAX)
    active = serializers.BooleanField(required=False, default=True)
    at_risk_fraction = serializers.FloatField(required=False, allow_null=True, min_value=0.01, max_value=0.99)


class SLAConfigUpdateInput(InputSerializer):
    service_area = serializers.CharField(max_length=64, required=False)
    task_type = serializers.CharField(max_length=64, required=False)
    target_minutes = serializers.IntegerField(min_value=1, max_value=INT32_MAX, required=False)
    active = serializers.BooleanField(required=False)
    at_risk_fraction = serializers.FloatField(required=False, allow_null=True, min_value=0.01, max_value=0.99)


# --- outputs ------------------------------------------------------------------------------
class UsernameField(serializers.CharField):
    def to_representation(self, value):
        return value.get_username() if value is not None else None


class SLARecordOutput(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True, help_text="running, paused, met, breached, cancelled")
    breached = serializers.BooleanField(read_only=True)
    at_risk = serializers.BooleanField(read_only=True)

    class Meta:
        model = SLARecord
        fields = [
            "id", "status", "breached", "at_risk", "target_minutes", "started_at", "due_at", "at_risk_at",
            "paused_at", "paused_seconds", "completed_at", "actual_minutes", "breached_at", "at_risk_notified_at",
            "sla_config_id",
        ]  # fmt: skip


class TaskOutput(serializers.ModelSerializer):
    state = serializers.CharField(read_only=True, help_text="new, in_progress, blocked, completed, cancelled")
    priority = serializers.CharField(read_only=True, help_text="low, medium, high, critical")
    created_by = UsernameField(read_only=True, allow_null=True)
    assigned_to = UsernameField(read_only=True, allow_null=True)
    action_plan_id = serializers.IntegerField(read_only=True, allow_null=True)
    allowed_transitions = serializers.SerializerMethodField()
    # A nested field, not a method building a serializer per row (~1 ms a task in a list);
    # a task without an SLA record renders null (DRF maps the missing reverse one-to-one).
    sla = SLARecordOutput(read_only=True, allow_null=True)

    class Meta:
        model = Task
        fields = [
            "id", "title", "description", "state", "task_type", "service_area", "priority", "created_by",
            "assigned_to", "action_plan_id", "due_date", "metadata", "created_at", "updated_at", "started_at",
            "completed_at", "allowed_transitions", "sla",
        ]  # fmt: skip

    def get_allowed_transitions(self, task) -> list[str]:
        return fsm.allowed_targets(Task, task.state)


class TransitionOutput(serializers.Serializer):
    id = serializers.IntegerField()
    entity_type = serializers.CharField()
    entity_id = serializers.IntegerField()
    transition = serializers.CharField()
    from_state = serializers.CharField()
    to_state = serializers.CharField()
    actor = UsernameField(allow_null=True)
    context = serializers.DictField()
    notes = serializers.CharField()
    event_id = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()


class TaskDetailOutput(TaskOutput):
    transitions = serializers.SerializerMethodField()

    class Meta(TaskOutput.Meta):
        fields = [*TaskOutput.Meta.fields, "transitions"]

    def get_transitions(self, task) -> list[dict]:
        return TransitionOutput(self.context.get("transitions", []), many=True).data


TaskDetailOutput.get_transitions.__annotations__["return"] = TransitionOutput(many=True)


class TaskTransitionResult(serializers.Serializer):
    success = serializers.BooleanField()
    task = TaskOutput()
    transition = TransitionOutput()


class ActionPlanOutput(serializers.ModelSerializer):
    state = serializers.CharField(read_only=True, help_text="draft, active, archived")
    created_by = UsernameField(read_only=True, allow_null=True)
    allowed_transitions = serializers.SerializerMethodField()
    task_count = serializers.IntegerField(read_only=True, required=False)

    class Meta:
        model = ActionPlan
        fields = [
            "id", "title", "description", "state", "goals", "metadata", "created_by", "created_at", "updated_at",
            "activated_at", "archived_at", "allowed_transitions", "task_count",
        ]  # fmt: skip

    def get_allowed_transitions(self, plan) -> list[str]:
        return fsm.allowed_targets(ActionPlan, plan.state)


class ActionPlanTransitionResult(serializers.Serializer):
    success = serializers.BooleanField()
    action_plan = ActionPlanOutput()
    transition = TransitionOutput()


class SLAConfigOutput(serializers.Serializer):
    id = serializers.IntegerField()
    service_area = serializers.CharField()
    task_type = serializers.CharField()
    target_minutes = serializers.IntegerField()
    at_risk_fraction = serializers.FloatField(allow_null=True)
    active = serializers.BooleanField()
    scope = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_scope(self, config) -> str:
        return "tenant" if config.tenant_id else "global"
