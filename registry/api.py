"""Registry REST API, the seed's paths under /api/v1/. Thin: validate, call one named service
(as the request's user, in the request's tenant) or selector, serialize."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from ocx.core import errors
from ocx.core.access import Perm
from ocx.core.api.pagination import PageNumberPagination
from ocx.core.api.params import parse_bool, parse_choice, parse_int
from ocx.core.api.schema import bool_parameter, int_parameter, uuid_parameter
from ocx.core.api.views import TenantAPIView
from registry import selectors, services
from registry.models import ActivityStatus, ApprovalType, Environment
from registry.rules import can_decide
from registry.serializers import (
    ActivityCreateInput,
    ActivityListItemSerializer,
    ActivitySerializer,
    ActivityUpdateInput,
    ApprovalSerializer,
    ConflictInput,
    ConflictSerializer,
    DecideInput,
    DeployInput,
    DeploymentSerializer,
    ExecutionInput,
    ExecutionSerializer,
    NewVersionInput,
    ReasonInput,
    RequestApprovalInput,
    RollbackInput,
    StatsSerializer,
    SuspendInput,
    VersionSerializer,
)

TAGS = ["registry"]
ACTOR_ONLY_FIELDS = ("created_by", "deployed_by", "rolled_back_by", "suspended_by")


def _validated(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return {k: v for k, v in serializer.validated_data.items() if k not in ACTOR_ONLY_FIELDS}


# Permissions are checked before the body is validated (a viewer's incomplete write is a 403,
# not a 400 that reveals the body's rules); the services check them again, with the details
# (which approval type, separation of duties).
APPROVE_ANY = (Perm.APPROVE_TECHNICAL, Perm.APPROVE_BUSINESS, Perm.APPROVE_COMPLIANCE, Perm.APPROVE_SECURITY)


class RegistryView(TenantAPIView):
    def activity(self, activity_id):
        return selectors.activity_get(tenant=self.request.tenant, activity_id=activity_id)


class ActivityListView(RegistryView):
    required_perms = {"POST": Perm.CREATE_ACTIVITY}
    pagination_class = PageNumberPagination
    error_statuses = {"POST": (409,)}  # the name and version exist already

    @extend_schema(
        tags=TAGS,
        responses=ActivityListItemSerializer(many=True),
        parameters=[
            OpenApiParameter("status", enum=ActivityStatus.values),
            OpenApiParameter("category"),
            OpenApiParameter("name"),
            OpenApiParameter("owner"),
            OpenApiParameter(
                "environment", enum=Environment.values, description="Only activities actively deployed there"
            ),
        ],
    )
    def get(self, request):
        """List activities (30 per page by default, at most 100), without their EBCL source: the
        detail carries it."""
        parse_choice(request.query_params, "status", ActivityStatus.values)
        parse_choice(request.query_params, "environment", Environment.values)
        qs = selectors.activity_list(tenant=request.tenant, filters=request.query_params)
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(ActivityListItemSerializer(page, many=True).data)

    @extend_schema(tags=TAGS, request=ActivityCreateInput, responses={201: ActivitySerializer})
    def post(self, request):
        """Create an activity (a DRAFT)."""
        activity = services.activity_create(
            tenant=request.tenant, actor=request.user, **_validated(ActivityCreateInput, request.data)
        )
        return Response(ActivitySerializer(activity).data, status=status.HTTP_201_CREATED)


class ActivityLatestView(RegistryView):
    @extend_schema(
        tags=TAGS, responses=ActivitySerializer, parameters=[OpenApiParameter("status", enum=ActivityStatus.values)]
    )
    def get(self, request, name: str):
        """The highest semantic version of an activity name (optionally in one status)."""
        activity = selectors.activity_latest(
            tenant=request.tenant, name=name, status=parse_choice(request.query_params, "status", ActivityStatus.values)
        )
        return Response(ActivitySerializer(activity).data)


class ActivityDetailView(RegistryView):
    required_perms = {"PATCH": Perm.CREATE_ACTIVITY, "DELETE": Perm.CREATE_ACTIVITY}
    error_statuses = {"PATCH": (409,), "DELETE": (409,)}  # IMMUTABLE once approved; CONFLICT on a taken version

    @extend_schema(tags=TAGS, responses=ActivitySerializer)
    def get(self, request, activity_id):
        return Response(ActivitySerializer(self.activity(activity_id)).data)

    @extend_schema(tags=TAGS, request=ActivityUpdateInput, responses=ActivitySerializer)
    def patch(self, request, activity_id):
        """Edit a DRAFT or REVIEW activity; 409 IMMUTABLE once approved."""
        activity = services.activity_update(
            tenant=request.tenant,
            actor=request.user,
            activity_id=activity_id,
            **_validated(ActivityUpdateInput, request.data),
        )
        return Response(ActivitySerializer(activity).data)

    @extend_schema(tags=TAGS, responses={204: None})
    def delete(self, request, activity_id):
        """Delete an activity that was never approved; 409 IMMUTABLE otherwise."""
        services.activity_delete(tenant=request.tenant, actor=request.user, activity_id=activity_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class RequestApprovalView(RegistryView):
    required_perms = {"POST": Perm.REQUEST_APPROVAL}
    error_statuses = {"POST": (409,)}

    @extend_schema(
        tags=TAGS,
        request=RequestApprovalInput,
        responses={
            201: inline_serializer(
                "ApprovalRequestResult",
                {
                    "activity": ActivitySerializer(),
                    "approvals": ApprovalSerializer(many=True),
                },
            )
        },
    )
    def post(self, request, activity_id):
        """Request an approval; a DRAFT moves to REVIEW and opens a new review round."""
        activity, approvals = services.activity_request_approval(
            tenant=request.tenant,
            actor=request.user,
            activity_id=activity_id,
            **_validated(RequestApprovalInput, request.data),
        )
        return Response(
            {"activity": ActivitySerializer(activity).data, "approvals": ApprovalSerializer(approvals, many=True).data},
            status=status.HTTP_201_CREATED,
        )


class DecideView(RegistryView):
    required_perms = {"POST": APPROVE_ANY}
    error_statuses = {"POST": (409,)}  # already decided

    @extend_schema(
        tags=TAGS,
        request=DecideInput,
        parameters=[uuid_parameter("approval_id", "The approval to decide.")],
        responses=inline_serializer(
            "ApprovalDecision", {"activity": ActivitySerializer(), "approval": ApprovalSerializer()}
        ),
    )
    def post(self, request, activity_id):
        """Approve or reject one approval (``?approval_id=``)."""
        data = _validated(DecideInput, request.data)
        approval_id = _required_uuid(request, "approval_id")
        activity, approval = services.approval_decide(
            tenant=request.tenant, actor=request.user, activity_id=activity_id, approval_id=approval_id, **data
        )
        return Response({"activity": ActivitySerializer(activity).data, "approval": ApprovalSerializer(approval).data})


def _required_uuid(request, name: str) -> str:
    """A required ``?<name>=`` query parameter holding a UUID; absent or malformed: 400."""
    value = request.query_params.get(name)
    if not value:
        raise errors.ValidationError(f"{name} is required.", details={name: ["This field is required."]})
    field = serializers.UUIDField()
    try:
        return str(field.to_internal_value(value))
    except serializers.ValidationError:
        raise errors.ValidationError(f"{name} must be a UUID.", details={name: ["Must be a valid UUID."]}) from None


class ActivityApprovalsView(RegistryView):
    @extend_schema(tags=TAGS, responses=ApprovalSerializer(many=True))
    def get(self, request, activity_id):
        """Every approval of the activity, all rounds."""
        approvals = selectors.approvals_for(activity=self.activity(activity_id))
        return Response(ApprovalSerializer(approvals, many=True).data)


class PendingApprovalsView(RegistryView):
    pagination_class = PageNumberPagination

    @extend_schema(
        tags=TAGS,
        responses=ApprovalSerializer(many=True),
        parameters=[
            OpenApiParameter("approval_type", enum=ApprovalType.values),
            OpenApiParameter("approver", description="The approver_id the approval was requested from"),
            bool_parameter("mine", "Only approvals the caller may decide"),
        ],
    )
    def get(self, request):
        """Pending approvals of the caller's tenant."""
        qs = selectors.approvals_pending(
            tenant=request.tenant,
            approval_type=parse_choice(request.query_params, "approval_type", ApprovalType.values),
            approver=request.query_params.get("approver"),
        )
        if parse_bool(request.query_params.get("mine"), name="mine"):
            qs = [a for a in qs if can_decide(request.user, a, a.activity)[0]]
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(ApprovalSerializer(page, many=True).data)


class DeployView(RegistryView):
    required_perms = {"POST": Perm.DEPLOY_ACTIVITY}
    error_statuses = {"POST": (409,)}  # the slot is taken by a concurrent deploy, or the activity is not deployable

    @extend_schema(tags=TAGS, request=DeployInput, responses={201: DeploymentSerializer})
    def post(self, request, activity_id):
        """Deploy to an environment of a tenant (effective now, or later by effective_from)."""
        data = _validated(DeployInput, request.data)
        data["target_tenant"] = data.pop("tenant_id", None)
        deployment = services.activity_deploy(
            tenant=request.tenant, actor=request.user, activity_id=activity_id, **data
        )
        return Response(DeploymentSerializer(deployment).data, status=status.HTTP_201_CREATED)


class DeploymentListView(RegistryView):
    @extend_schema(tags=TAGS, responses=DeploymentSerializer(many=True))
    def get(self, request, activity_id):
        deployments = selectors.deployments_for(activity=self.activity(activity_id))
        return Response(DeploymentSerializer(deployments, many=True).data)


class RollbackView(RegistryView):
    required_perms = {"POST": Perm.DEPLOY_ACTIVITY}
    error_statuses = {"POST": (409,)}

    @extend_schema(
        tags=TAGS,
        request=RollbackInput,
        parameters=[uuid_parameter("deployment_id", "The deployment to roll back.")],
        responses=inline_serializer(
            "RollbackResult", {"rolled_back": DeploymentSerializer(), "reactivated": DeploymentSerializer()}
        ),
    )
    def post(self, request, activity_id):
        """End a deployment and reactivate the one it superseded."""
        data = _validated(RollbackInput, request.data)
        deployment_id = _required_uuid(request, "deployment_id")
        reactivated = services.deployment_rollback(
            tenant=request.tenant, actor=request.user, activity_id=activity_id, deployment_id=deployment_id, **data
        )
        rolled_back = selectors.deployments_for(activity=self.activity(activity_id)).get(pk=deployment_id)
        return Response(
            {
                "rolled_back": DeploymentSerializer(rolled_back).data,
                "reactivated": DeploymentSerializer(reactivated).data,
            }
        )


class SuspendView(RegistryView):
    required_perms = {"POST": Perm.SUSPEND_ACTIVITY}
    error_statuses = {"POST": (409,)}

    @extend_schema(tags=TAGS, request=SuspendInput, responses=ActivitySerializer)
    def post(self, request, activity_id):
        """Emergency suspension: ends every active deployment at once."""
        activity = services.activity_suspend(
            tenant=request.tenant,
            actor=request.user,
            activity_id=activity_id,
            **_validated(SuspendInput, request.data),
        )
        return Response(ActivitySerializer(activity).data)


class ReactivateView(RegistryView):
    required_perms = {"POST": Perm.SUSPEND_ACTIVITY}
    error_statuses = {"POST": (409,)}

    @extend_schema(tags=TAGS, request=ReasonInput, responses=ActivitySerializer)
    def post(self, request, activity_id):
        """Lift a suspension (back to APPROVED; deploy again to go live)."""
        activity = services.activity_reactivate(
            tenant=request.tenant,
            actor=request.user,
            activity_id=activity_id,
            **_validated(ReasonInput, request.data),
        )
        return Response(ActivitySerializer(activity).data)


class RetireView(RegistryView):
    required_perms = {"POST": Perm.SUSPEND_ACTIVITY}
    error_statuses = {"POST": (409,)}

    @extend_schema(tags=TAGS, request=ReasonInput, responses=ActivitySerializer)
    def post(self, request, activity_id):
        """Retire for good."""
        activity = services.activity_retire(
            tenant=request.tenant,
            actor=request.user,
            activity_id=activity_id,
            **_validated(ReasonInput, request.data),
        )
        return Response(ActivitySerializer(activity).data)


class NewVersionView(RegistryView):
    required_perms = {"POST": Perm.CREATE_ACTIVITY}
    error_statuses = {"POST": (409,)}  # the bumped version exists already

    @extend_schema(tags=TAGS, request=NewVersionInput, responses={201: ActivitySerializer})
    def post(self, request, activity_id):
        """A new DRAFT version (semver bumped by version_type)."""
        activity = services.activity_new_version(
            tenant=request.tenant,
            actor=request.user,
            activity_id=activity_id,
            **_validated(NewVersionInput, request.data),
        )
        return Response(ActivitySerializer(activity).data, status=status.HTTP_201_CREATED)


class VersionListView(RegistryView):
    @extend_schema(tags=TAGS, responses=VersionSerializer(many=True))
    def get(self, request, activity_id):
        """Version history of the activity's name, newest first."""
        versions = selectors.versions_for(activity=self.activity(activity_id))
        return Response(VersionSerializer(versions, many=True).data)


class ExecutionListView(RegistryView):
    required_perms = {"POST": Perm.RECORD_EXECUTION}
    error_statuses = {"POST": (409,)}  # no active deployment to record against

    @extend_schema(
        tags=TAGS,
        responses=ExecutionSerializer(many=True),
        parameters=[int_parameter("limit", 1, 1000, "Default 100, at most 1000")],
    )
    def get(self, request, activity_id):
        """The most recent executions."""
        limit = parse_int(request.query_params.get("limit"), name="limit", minimum=1, maximum=1000, default=100)
        executions = selectors.executions_for(activity=self.activity(activity_id), limit=limit)
        return Response(ExecutionSerializer(executions, many=True).data)

    @extend_schema(tags=TAGS, request=ExecutionInput, responses={201: ExecutionSerializer})
    def post(self, request, activity_id):
        """An agent reports an execution against an active deployment."""
        execution = services.execution_record(
            tenant=request.tenant,
            actor=request.user,
            activity_id=activity_id,
            **_validated(ExecutionInput, request.data),
        )
        return Response(ExecutionSerializer(execution).data, status=status.HTTP_201_CREATED)


class StatsView(RegistryView):
    @extend_schema(tags=TAGS, responses=StatsSerializer)
    def get(self, request, activity_id):
        """Execution stats, read from a maintained aggregate (one row at any volume)."""
        return Response(StatsSerializer(selectors.execution_stats(activity=self.activity(activity_id))).data)


class ConflictListView(RegistryView):
    required_perms = {"POST": Perm.CREATE_ACTIVITY}
    error_statuses = {"POST": (409,)}

    @extend_schema(tags=TAGS, responses=ConflictSerializer(many=True))
    def get(self, request, activity_id):
        return Response(
            ConflictSerializer(selectors.conflicts_for(activity=self.activity(activity_id)), many=True).data
        )

    @extend_schema(tags=TAGS, request=ConflictInput, responses={201: ConflictSerializer})
    def post(self, request, activity_id):
        """Record a conflict resolution (documents, chosen path, justification)."""
        conflict = services.conflict_record(
            tenant=request.tenant,
            actor=request.user,
            activity_id=activity_id,
            **_validated(ConflictInput, request.data),
        )
        return Response(ConflictSerializer(conflict).data, status=status.HTTP_201_CREATED)
