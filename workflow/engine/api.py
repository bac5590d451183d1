"""``/api/v1/workflow/templates…``, ``/instances…``, ``/incidents…``: thin views over the engine.

Permissions reuse the seed-named ones (OCX has no engine-specific codename yet): reading needs
a membership; creating/publishing templates and the operator actions (retry, skip, cancel, bulk
incident retry) need ACTIVATE_ACTION_PLAN (tenant admins); starting an instance and completing a
manual step need UPDATE_TASK (members).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from ocx.core.access import Perm
from ocx.core.api.pagination import LimitPagination
from ocx.core.api.params import (
    INT64_MAX,
    parse_bool,
    parse_choice,
    parse_choices,
    parse_datetime_param,
    parse_int,
    parse_path_id,
)
from ocx.core.api.schema import bool_parameter, int_parameter
from ocx.core.api.views import TenantAPIView
from workflow.engine import handlers, selectors, services
from workflow.engine.models import InstanceState, TemplateStatus
from workflow.engine.serializers import (
    EngineActivityOutput,
    EngineCompleteInput,
    EngineIncidentOverviewOutput,
    EngineIncidentRetryInput,
    EngineInstanceDetailOutput,
    EngineInstanceOutput,
    EngineReasonInput,
    EngineRetryInput,
    EngineSkipInput,
    EngineStartInput,
    EngineTemplateDefinitionInput,
    EngineTemplateOutput,
    EngineTimelineEventOutput,
)

ADMIN = Perm.ACTIVATE_ACTION_PLAN
INCIDENTS_SHOWN = 100  # the overview lists the newest ones; the groups count them all
ERRORS = {
    400: OpenApiResponse(description="VALIDATION_ERROR or INVALID_TRANSITION (error envelope)"),
    403: OpenApiResponse(description="PERMISSION_DENIED (error envelope)"),
    404: OpenApiResponse(description="NOT_FOUND (error envelope)"),
    409: OpenApiResponse(description="CONFLICT (error envelope)"),
}


def _id(value, name):
    return parse_path_id(value, name=name)


def _definition(request) -> dict:
    data = EngineTemplateDefinitionInput(data=request.data)
    data.is_valid(raise_exception=True)
    return dict(request.data)


class TemplateListView(TenantAPIView):
    """List templates (every version) or create a draft from the JSON form."""

    pagination_class = LimitPagination
    required_perms = {"POST": ADMIN}

    @extend_schema(
        parameters=[OpenApiParameter("name", str), OpenApiParameter("status", str, enum=TemplateStatus.values)],
        responses=EngineTemplateOutput(many=True),
    )
    def get(self, request):
        params = request.query_params
        qs = selectors.template_list(
            tenant=request.tenant, name=params.get("name"), status=parse_choice(params, "status", TemplateStatus.values)
        )
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(EngineTemplateOutput(page, many=True).data)

    @extend_schema(request=EngineTemplateDefinitionInput, responses={201: EngineTemplateOutput, **ERRORS})
    def post(self, request):
        template = services.template_create(tenant=request.tenant, actor=request.user, definition=_definition(request))
        return Response(EngineTemplateOutput(template).data, status=status.HTTP_201_CREATED)


class TemplateValidateView(TenantAPIView):
    """Validate a JSON form without saving it (the errors create would answer)."""

    @extend_schema(
        request=EngineTemplateDefinitionInput,
        responses={
            200: inline_serializer(
                "TemplateValid", {"valid": serializers.BooleanField(), "activities": serializers.IntegerField()}
            ),
            **ERRORS,
        },
    )
    def post(self, request):
        clean = services.validate_definition(_definition(request))
        return Response({"valid": True, "activities": sum(len(p["activities"]) for p in clean["phases"])})


class TemplateDetailView(TenantAPIView):
    @extend_schema(
        responses={
            200: inline_serializer(
                "TemplateDetail", {"template": EngineTemplateOutput(), "definition": serializers.DictField()}
            ),
            404: ERRORS[404],
        }
    )
    def get(self, request, pk):
        template = selectors.template_get(tenant=request.tenant, template_id=_id(pk, "Workflow template"))
        return Response(
            {"template": EngineTemplateOutput(template).data, "definition": services.template_export(template=template)}
        )


class TemplateExportView(TenantAPIView):
    @extend_schema(
        responses={
            200: inline_serializer(
                "TemplateDefinition", {"name": serializers.CharField(), "phases": serializers.ListField()}
            ),
            404: ERRORS[404],
        }
    )
    def get(self, request, pk):
        template = selectors.template_get(tenant=request.tenant, template_id=_id(pk, "Workflow template"))
        return Response(services.template_export(template=template))


class TemplatePublishView(TenantAPIView):
    required_perms = {"POST": ADMIN}

    @extend_schema(request=None, responses={200: EngineTemplateOutput, **ERRORS})
    def post(self, request, pk):
        template = services.template_publish(
            tenant=request.tenant, actor=request.user, template_id=_id(pk, "Workflow template")
        )
        return Response(EngineTemplateOutput(template).data)


class TemplateNewVersionView(TenantAPIView):
    """A draft copy as the next version (optionally with a changed JSON form in the body)."""

    required_perms = {"POST": ADMIN}

    @extend_schema(request=EngineTemplateDefinitionInput, responses={201: EngineTemplateOutput, **ERRORS})
    def post(self, request, pk):
        definition = _definition(request) if request.data else None
        template = services.template_new_version(
            tenant=request.tenant, actor=request.user, template_id=_id(pk, "Workflow template"), definition=definition
        )
        return Response(EngineTemplateOutput(template).data, status=status.HTTP_201_CREATED)


class HandlerListView(TenantAPIView):
    @extend_schema(responses={200: inline_serializer("Handlers", {"handlers": serializers.ListField()})})
    def get(self, request):
        return Response({"handlers": handlers.describe()})


class InstanceListView(TenantAPIView):
    pagination_class = LimitPagination
    required_perms = {"POST": Perm.UPDATE_TASK}
    error_statuses = {"POST": (404,)}

    @extend_schema(
        parameters=[
            int_parameter("template_id", 1, INT64_MAX),
            OpenApiParameter("template_name", str),
            OpenApiParameter(
                "state",
                str,
                enum=InstanceState.values,
                many=True,
                explode=False,
                description="One state or a comma list",
            ),
            OpenApiParameter("started_after", str),
            OpenApiParameter("started_before", str),
        ],
        responses=EngineInstanceOutput(many=True),
    )
    def get(self, request):
        p = request.query_params
        qs = selectors.instance_list(
            tenant=request.tenant, template_id=parse_int(p.get("template_id"), name="template_id", minimum=1),
            template_name=p.get("template_name"), states=parse_choices(p, "state", InstanceState.values),
            started_after=parse_datetime_param(p.get("started_after"), name="started_after"),
            started_before=parse_datetime_param(p.get("started_before"), name="started_before"),
        )  # fmt: skip
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(EngineInstanceOutput(page, many=True).data)

    @extend_schema(request=EngineStartInput, responses={201: EngineInstanceOutput, **ERRORS})
    def post(self, request):
        data = EngineStartInput(data=request.data)
        data.is_valid(raise_exception=True)
        inst = services.instance_start(tenant=request.tenant, actor=request.user, **data.validated_data)
        inst = selectors.instance_get(tenant=request.tenant, instance_id=inst.pk)
        return Response(EngineInstanceOutput(inst).data, status=status.HTTP_201_CREATED)


class InstanceDetailView(TenantAPIView):
    @extend_schema(responses={200: EngineInstanceDetailOutput, 404: ERRORS[404]})
    def get(self, request, pk):
        inst = selectors.instance_get(tenant=request.tenant, instance_id=_id(pk, "Workflow instance"))
        return Response(EngineInstanceDetailOutput(inst).data)


class InstanceCancelView(TenantAPIView):
    required_perms = {"POST": ADMIN}

    @extend_schema(request=EngineReasonInput, responses={200: EngineInstanceOutput, **ERRORS})
    def post(self, request, pk):
        data = EngineReasonInput(data=request.data or {})
        data.is_valid(raise_exception=True)
        inst = services.instance_cancel(
            tenant=request.tenant, actor=request.user, instance_id=_id(pk, "Workflow instance"), **data.validated_data
        )
        return Response(EngineInstanceOutput(inst).data)


class InstanceRetryView(TenantAPIView):
    """Retry from the failure (all failed activities, or ``activity_ids``); completed work is kept."""

    error_statuses = {"POST": (409,)}
    required_perms = {"POST": ADMIN}

    @extend_schema(request=EngineRetryInput, responses={200: EngineInstanceOutput, **ERRORS})
    def post(self, request, pk):
        data = EngineRetryInput(data=request.data or {})
        data.is_valid(raise_exception=True)
        inst = services.instance_retry(
            tenant=request.tenant, actor=request.user, instance_id=_id(pk, "Workflow instance"), **data.validated_data
        )
        return Response(EngineInstanceOutput(inst).data)


class InstanceTimelineView(TenantAPIView):
    @extend_schema(
        responses={
            200: inline_serializer(
                "WorkflowTimeline",
                {"count": serializers.IntegerField(), "results": EngineTimelineEventOutput(many=True)},
            ),
            404: ERRORS[404],
        }
    )
    def get(self, request, pk):
        events = selectors.instance_timeline(tenant=request.tenant, instance_id=_id(pk, "Workflow instance"))
        return Response({"count": len(events), "results": EngineTimelineEventOutput(events, many=True).data})


class ActivityCompleteView(TenantAPIView):
    """Complete a waiting manual activity; ``result`` is merged into the instance context."""

    error_statuses = {"POST": (409,)}
    required_perms = {"POST": Perm.UPDATE_TASK}

    @extend_schema(request=EngineCompleteInput, responses={200: EngineActivityOutput, **ERRORS})
    def post(self, request, pk, activity_id):
        data = EngineCompleteInput(data=request.data or {})
        data.is_valid(raise_exception=True)
        act = services.activity_complete_manual(
            tenant=request.tenant, actor=request.user, instance_id=_id(pk, "Workflow instance"),
            activity_id=_id(activity_id, "Activity"), result=data.validated_data["result"],
        )  # fmt: skip
        return Response(EngineActivityOutput(act).data)


class ActivityRetryView(TenantAPIView):
    error_statuses = {"POST": (409,)}
    required_perms = {"POST": ADMIN}

    @extend_schema(request=EngineReasonInput, responses={200: EngineInstanceOutput, **ERRORS})
    def post(self, request, pk, activity_id):
        data = EngineReasonInput(data=request.data or {})
        data.is_valid(raise_exception=True)
        inst = services.instance_retry(
            tenant=request.tenant, actor=request.user, instance_id=_id(pk, "Workflow instance"),
            activity_ids=[_id(activity_id, "Activity")], reason=data.validated_data["reason"],
        )  # fmt: skip
        return Response(EngineInstanceOutput(inst).data)


class ActivitySkipView(TenantAPIView):
    required_perms = {"POST": ADMIN}

    @extend_schema(request=EngineSkipInput, responses={200: EngineActivityOutput, **ERRORS})
    def post(self, request, pk, activity_id):
        data = EngineSkipInput(data=request.data or {})
        data.is_valid(raise_exception=True)
        act = services.activity_skip(
            tenant=request.tenant, actor=request.user, instance_id=_id(pk, "Workflow instance"),
            activity_id=_id(activity_id, "Activity"), reason=data.validated_data["reason"],
        )  # fmt: skip
        return Response(EngineActivityOutput(act).data)


class IncidentListView(TenantAPIView):
    """Open incidents grouped by error type and message, with counts, and the newest 100 of them
    (``?all=true``: resolved too). One object, not paginated."""

    @extend_schema(
        parameters=[
            bool_parameter("all", "Include resolved incidents."),
            int_parameter("template_id", 1, INT64_MAX, "Only incidents of instances of this template."),
        ],
        responses={200: EngineIncidentOverviewOutput},
    )
    def get(self, request):
        open_only = not parse_bool(request.query_params.get("all"), name="all")
        template_id = parse_int(request.query_params.get("template_id"), name="template_id", minimum=1)
        filters = {"tenant": request.tenant, "open_only": open_only, "template_id": template_id}
        overview = {
            "groups": selectors.incident_groups(**filters),
            "incidents": selectors.incident_list(**filters)[:INCIDENTS_SHOWN],
        }
        return Response(EngineIncidentOverviewOutput(overview).data)


class IncidentRetryView(TenantAPIView):
    """Resolve by retry every open incident matching the filter."""

    error_statuses = {"POST": (409,)}
    required_perms = {"POST": ADMIN}

    @extend_schema(
        request=EngineIncidentRetryInput,
        responses={
            200: inline_serializer(
                "IncidentsRetried", {"retried_instances": serializers.ListField(child=serializers.IntegerField())}
            ),
            **ERRORS,
        },
    )
    def post(self, request):
        data = EngineIncidentRetryInput(data=request.data or {})
        data.is_valid(raise_exception=True)
        retried = services.incidents_retry(tenant=request.tenant, actor=request.user, **data.validated_data)
        return Response({"retried_instances": retried})
