"""``/api/v1/workflow/…``: seed 003's task, action-plan, metadata, SLA-config and stats endpoints.

Thin views: validate input, call one service (or selector), serialize.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from ocx.core import fsm
from ocx.core.access import Perm
from ocx.core.api.pagination import LimitPagination
from ocx.core.api.params import INT64_MAX, parse_bool, parse_choice, parse_choices, parse_int, parse_path_id
from ocx.core.api.schema import bool_parameter, int_parameter
from ocx.core.api.views import TenantAPIView, TenantHeaderPermission
from workflow import selectors, services
from workflow.models import ActionPlan, ActionPlanState, Task, TaskPriority, TaskState
from workflow.serializers import (
    ActionPlanCreateInput,
    ActionPlanOutput,
    ActionPlanTransitionResult,
    PlanTransitionInput,
    SLAConfigInput,
    SLAConfigOutput,
    SLAConfigUpdateInput,
    TaskCreateInput,
    TaskDetailOutput,
    TaskOutput,
    TaskTransitionResult,
    TransitionInput,
    TransitionOutput,
)
from workflow.services.tasks import resolve_member

ERRORS = {
    400: OpenApiResponse(description="VALIDATION_ERROR or INVALID_TRANSITION (error envelope)"),
    403: OpenApiResponse(description="PERMISSION_DENIED (error envelope)"),
    404: OpenApiResponse(description="NOT_FOUND (error envelope)"),
}


def _int_id(value, name: str) -> int:
    return parse_path_id(value, name=name)


class TaskListView(TenantAPIView):
    """List the tenant's tasks (filters as the seed: state, task_type, limit) or create one."""

    pagination_class = LimitPagination
    required_perms = {"POST": Perm.CREATE_TASK}

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "state", str, enum=TaskState.values, many=True, explode=False, description="One state or a comma list"
            ),
            OpenApiParameter("task_type", str),
            OpenApiParameter("priority", str, enum=TaskPriority.values),
            OpenApiParameter("assigned_to", str, description="Username"),
            int_parameter("action_plan_id", 1, INT64_MAX),
        ],
        responses=TaskOutput(many=True),
    )
    def get(self, request):
        params = request.query_params
        plan = params.get("action_plan_id")
        states = parse_choices(params, "state", TaskState.values)
        qs = selectors.task_list(
            tenant=request.tenant,
            state=",".join(states) if states else None,
            task_type=params.get("task_type"),
            priority=parse_choice(params, "priority", TaskPriority.values),
            assigned_to=params.get("assigned_to"),
            action_plan_id=parse_int(plan, name="action_plan_id", minimum=1),
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(TaskOutput(page, many=True).data)

    @extend_schema(request=TaskCreateInput, responses={201: TaskOutput, **ERRORS})
    def post(self, request):
        self.require(Perm.CREATE_TASK)
        data = TaskCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        values["assigned_to"] = resolve_member(tenant=request.tenant, username=values.get("assigned_to"))
        task = services.task_create(tenant=request.tenant, actor=request.user, **values)
        task = selectors.task_get(tenant=request.tenant, task_id=task.pk)
        return Response(TaskOutput(task).data, status=status.HTTP_201_CREATED)


class TaskDetailView(TenantAPIView):
    @extend_schema(responses={200: TaskDetailOutput, 404: ERRORS[404]})
    def get(self, request, pk):
        task = selectors.task_get(tenant=request.tenant, task_id=_int_id(pk, "Task"))
        transitions = selectors.task_transitions(tenant=request.tenant, task_id=task.pk)
        return Response(TaskDetailOutput(task, context={"transitions": transitions}).data)


class TaskTransitionView(TenantAPIView):
    """Move a task to ``target_state`` (creator, assignee or admin; UPDATE_TASK)."""

    required_perms = {"POST": Perm.UPDATE_TASK}
    error_statuses = {"POST": (409,)}  # a concurrent transition won

    @extend_schema(request=TransitionInput, responses={200: TaskTransitionResult, **ERRORS})
    def post(self, request, pk):
        self.require(Perm.UPDATE_TASK)
        data = TransitionInput(data=request.data)
        data.is_valid(raise_exception=True)
        task, record = services.task_transition(
            tenant=request.tenant, task_id=_int_id(pk, "Task"), actor=request.user, **data.validated_data
        )
        # The locked row is current and carries its users (and its SLA record when the clock
        # moved; otherwise the serializer reads it: one query either way).
        return Response({"success": True, "task": TaskOutput(task).data, "transition": TransitionOutput(record).data})


class ActionPlanListView(TenantAPIView):
    required_perms = {"POST": Perm.CREATE_ACTION_PLAN}
    pagination_class = LimitPagination

    @extend_schema(
        parameters=[OpenApiParameter("state", str, enum=ActionPlanState.values)], responses=ActionPlanOutput(many=True)
    )
    def get(self, request):
        state = parse_choice(request.query_params, "state", ActionPlanState.values)
        qs = selectors.action_plan_list(tenant=request.tenant, state=state)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(ActionPlanOutput(page, many=True).data)

    @extend_schema(request=ActionPlanCreateInput, responses={201: ActionPlanOutput, **ERRORS})
    def post(self, request):
        self.require(Perm.CREATE_ACTION_PLAN)
        data = ActionPlanCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        plan = services.action_plan_create(tenant=request.tenant, actor=request.user, **data.validated_data)
        plan = selectors.action_plan_get(tenant=request.tenant, plan_id=plan.pk)
        return Response(ActionPlanOutput(plan).data, status=status.HTTP_201_CREATED)


class ActionPlanDetailView(TenantAPIView):
    @extend_schema(responses={200: ActionPlanOutput, 404: ERRORS[404]})
    def get(self, request, pk):
        plan = selectors.action_plan_get(tenant=request.tenant, plan_id=_int_id(pk, "Action plan"))
        return Response(ActionPlanOutput(plan).data)


class _PlanTransitionView(TenantAPIView):
    target_state = ""
    required_perms = {"POST": Perm.ACTIVATE_ACTION_PLAN}
    error_statuses = {"POST": (409,)}  # a concurrent transition won

    @extend_schema(request=PlanTransitionInput, responses={200: ActionPlanTransitionResult, **ERRORS})
    def post(self, request, pk):
        self.require(Perm.ACTIVATE_ACTION_PLAN)
        data = PlanTransitionInput(data=request.data or {})
        data.is_valid(raise_exception=True)
        plan, record = services.action_plan_transition(
            tenant=request.tenant,
            plan_id=_int_id(pk, "Action plan"),
            target_state=self.target_state,
            actor=request.user,
            **data.validated_data,
        )
        plan = selectors.action_plan_get(tenant=request.tenant, plan_id=plan.pk)
        return Response(
            {"success": True, "action_plan": ActionPlanOutput(plan).data, "transition": TransitionOutput(record).data}
        )


class ActionPlanActivateView(_PlanTransitionView):
    """draft → active (ACTIVATE_ACTION_PLAN; the plan needs a goal)."""

    target_state = "active"


class ActionPlanArchiveView(_PlanTransitionView):
    """draft or active → archived (ACTIVATE_ACTION_PLAN)."""

    target_state = "archived"


class MetadataView(APIView):
    """State machines, allowed transitions and business rules, read from the models' FSMs.

    Public (as in the seed's curl example): it describes the product, not any tenant's data.
    """

    permission_classes = [AllowAny, TenantHeaderPermission]

    @extend_schema(
        responses={200: inline_serializer("WorkflowMetadata", {"state_machines": serializers.DictField()})}, auth=[]
    )
    def get(self, request):
        return Response(
            {
                "state_machines": {
                    "task": fsm.describe(Task, entity_type="Task"),
                    "action_plan": fsm.describe(ActionPlan, entity_type="ActionPlan"),
                },
                "permissions": {
                    "create_task": Perm.CREATE_TASK,
                    "transition_task": f"{Perm.UPDATE_TASK}, and the task's creator or assignee, or a tenant admin",
                    "create_action_plan": Perm.CREATE_ACTION_PLAN,
                    "activate_or_archive_action_plan": Perm.ACTIVATE_ACTION_PLAN,
                    "manage_sla": Perm.MANAGE_SLA,
                    "view_stats": Perm.VIEW_WORKFLOW_STATS,
                },
                "sla": {
                    "clock": "Starts when the task is created, pauses while it is blocked, stops when it is "
                    "completed (met or breached) or cancelled.",
                },
                "event_types": [
                    "workflow.task.created",
                    *[f"workflow.task.{s}" for s in fsm.states(Task) if s != "new"],
                    "workflow.task.sla_warning",
                    "workflow.task.sla_breached",
                    "workflow.action_plan.created",
                    "workflow.action_plan.activated",
                    "workflow.action_plan.archived",
                    "workflow.alert.raised",
                    "workflow.sla_config.created",
                    "workflow.sla_config.updated",
                    "workflow.sla_config.deleted",
                    "workflow.trigger.created",
                    "workflow.trigger.updated",
                ],
            }
        )


class SLAConfigListView(TenantAPIView):
    """The tenant's SLA configurations and the global defaults (MANAGE_SLA)."""

    required_perm = Perm.MANAGE_SLA
    error_statuses = {"POST": (409,)}  # one configuration per service area and task type

    @extend_schema(
        operation_id="v1_workflow_sla_configs_list",
        parameters=[bool_parameter("active_only")],
        responses=inline_serializer(
            "SLAConfigList", {"count": serializers.IntegerField(), "results": SLAConfigOutput(many=True)}
        ),
    )
    def get(self, request):
        active_only = parse_bool(request.query_params.get("active_only"), name="active_only")
        configs = selectors.sla_config_list(tenant=request.tenant, active_only=active_only)
        return Response({"count": len(configs), "results": SLAConfigOutput(configs, many=True).data})

    @extend_schema(request=SLAConfigInput, responses={201: SLAConfigOutput, **ERRORS})
    def post(self, request):
        data = SLAConfigInput(data=request.data)
        data.is_valid(raise_exception=True)
        config = services.sla_config_create(tenant=request.tenant, actor=request.user, **data.validated_data)
        return Response(SLAConfigOutput(config).data, status=status.HTTP_201_CREATED)


class SLAConfigDetailView(TenantAPIView):
    required_perm = Perm.MANAGE_SLA
    error_statuses = {"PATCH": (409,), "DELETE": (409,)}

    @extend_schema(responses={200: SLAConfigOutput, 404: ERRORS[404]})
    def get(self, request, pk):
        config = selectors.sla_config_get(tenant=request.tenant, config_id=_int_id(pk, "SLA configuration"))
        return Response(SLAConfigOutput(config).data)

    @extend_schema(request=SLAConfigUpdateInput, responses={200: SLAConfigOutput, **ERRORS})
    def patch(self, request, pk):
        data = SLAConfigUpdateInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        config = services.sla_config_update(
            tenant=request.tenant, actor=request.user, config_id=_int_id(pk, "SLA configuration"), **data.validated_data
        )
        return Response(SLAConfigOutput(config).data)

    @extend_schema(responses={204: None, **ERRORS})
    def delete(self, request, pk):
        services.sla_config_delete(
            tenant=request.tenant, actor=request.user, config_id=_int_id(pk, "SLA configuration")
        )
        return Response(status=status.HTTP_204_NO_CONTENT)


class StatsView(TenantAPIView):
    """Task counts by state, SLA met/breached/at-risk, outbox backlog and failures (admins)."""

    required_perm = Perm.VIEW_WORKFLOW_STATS

    @extend_schema(responses={200: inline_serializer("WorkflowStats", {"tasks": serializers.DictField(), "sla": serializers.DictField(), "events": serializers.DictField(), "automation": serializers.DictField()}), 403: ERRORS[403]})  # fmt: skip
    def get(self, request):
        return Response(selectors.workflow_stats(tenant=request.tenant))
