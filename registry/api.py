"""Registry REST API, the seed's paths under /api/v1/. Thin: validate, call one named service
(as the request's user, in the request's tenant) or selector, serialize."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import status
from rest_framework.response import Response

from ocx.core import errors
from ocx.core.access import Perm
from ocx.core.api.pagination import PageNumberPagination
from ocx.core.api.views import TenantAPIView
from registry import selectors, services
from registry.models import ActivityStatus, ApprovalType, Environment
from registry.rules import can_decide
from registry.serializers import (
    ActivityCreateInput,
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

    @extend_schema(
        tags=TAGS,
        responses=ActivitySerializer(many=True),
        parameters=[
            OpenApiParameter("status", enum=ActivityStatus.values),
            OpenApiParameter("category"),
            OpenApiParameter("name"),
            OpenApiParameter("owner"),
            OpenApiParameter(
                "environment", enum=Environment.values, description="Only activities actively deployed there"
            ),
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int),
        ],
    )
    def get(self, request):
        """List activities (30 per page by default, at most 100)."""
        qs = selectors.activity_list(tenant=request.tenant, filters=request.query_params)
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(ActivitySerializer(page, many=True).data)

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
            tenant=request.tenant, name=name, status=request.query_params.get("status")
        )
        return Response(ActivitySerializer(activity).data)


class ActivityDetailView(RegistryView):
    required_perms = {"PATCH": Perm.CREATE_ACTIVITY, "DELETE": Perm.CREATE_ACTIVITY}

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

    @extend_schema(
        tags=TAGS,
        request=DecideInput,
        parameters=[OpenApiParameter("approval_id", str, required=False)],
        responses=inline_serializer(
            "ApprovalDecision", {"activity": ActivitySerializer(), "approval": ApprovalSerializer()}
        ),
    )
    def post(self, request, activity_id):
        """Approve or reject one approval (``?approval_id=``)."""
        data = _validated(DecideInput, request.data)
        approval_id = request.query_params.get("approval_id") or data.pop("approval_id", None)
        data.pop("approval_id", None)
        if not approval_id:
            raise errors.ValidationError(
                "approval_id is required.", details={"approval_id": ["This field is required."]}
            )
        activity, approval = services.approval_decide(
            tenant=request.tenant, actor=request.user, activity_id=activity_id, approval_id=approval_id, **data
        )
        return Response({"activity": ActivitySerializer(activity).data, "approval": ApprovalSerializer(approval).data})


class ActivityApprovalsView(RegistryView):
    @extend_schema(tags=TAGS, responses=ApprovalSerializer(many=True))
    def get(self, request, activity_id):
        """Every approval of the activity, all rounds."""
        approvals = selectors.approvals_for(activity=self.activity(activity_id))
        return Response(ApprovalSerializer(approvals, many=True).data)


class PendingApprovalsView(RegistryView):
    @extend_schema(
        tags=TAGS,
        responses=ApprovalSerializer(many=True),
        parameters=[
            OpenApiParameter("approval_type", enum=ApprovalType.values),
            OpenApiParameter("approver", description="The approver_id the approval was requested from"),
            OpenApiParameter("mine", bool, description="Only approvals the caller may decide"),
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int),
        ],
    )
    def get(self, request):
        """Pending approvals of the caller's tenant."""
        qs = selectors.approvals_pending(
            tenant=request.tenant,
            approval_type=request.query_params.get("approval_type"),
            approver=request.query_params.get("approver"),
        )
        if request.query_params.get("mine") in ("1", "true", "yes"):
            qs = [a for a in qs if can_decide(request.user, a, a.activity)[0]]
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        return paginator.get_paginated_response(ApprovalSerializer(page, many=True).data)


class DeployView(RegistryView):
    required_perms = {"POST": Perm.DEPLOY_ACTIVITY}

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

    @extend_schema(
        tags=TAGS,
        request=RollbackInput,
        parameters=[OpenApiParameter("deployment_id", str, required=False)],
        responses=inline_serializer(
            "RollbackResult", {"rolled_back": DeploymentSerializer(), "reactivated": DeploymentSerializer()}
        ),
    )
    def post(self, request, activity_id):
        """End a deployment and reactivate the one it superseded."""
        data = _validated(RollbackInput, request.data)
        deployment_id = request.query_params.get("deployment_id") or data.get("deployment_id")
        data.pop("deployment_id", None)
        if not deployment_id:
            raise errors.ValidationError(
                "deployment_id is required.", details={"deployment_id": ["This field is required."]}
            )
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

    @extend_schema(
        tags=TAGS,
        responses=ExecutionSerializer(many=True),
        parameters=[OpenApiParameter("limit", int, description="1–1000, default 100")],
    )
    def get(self, request, activity_id):
        """The most recent executions."""
        try:
            limit = min(max(int(request.query_params.get("limit", 100)), 1), 1000)
        except ValueError:
            raise errors.ValidationError(
                "limit must be an integer.", details={"limit": request.query_params.get("limit")}
            ) from None
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
