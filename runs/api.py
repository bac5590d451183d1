"""``/api/v1/…`` of seed 001: runs, the agents' claim / heartbeat / complete / fail, team and
personal activity, workspaces. Thin views: validate input, call one service or selector,
serialize."""

from __future__ import annotations

import uuid

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response

from ocx.core import errors
from ocx.core.access import Perm
from ocx.core.api.pagination import LimitPagination
from ocx.core.api.params import parse_bool, parse_choice, parse_choices, parse_datetime_param, parse_int
from ocx.core.api.schema import bool_parameter
from ocx.core.api.views import TenantAPIView
from ocx.core.fsm import describe
from runs import selectors, services
from runs.models import Run, RunStatus, WorkspaceRole, WorkUnitType
from runs.serializers import (
    ActivitySummarySerializer,
    ArchiveInput,
    CancelInput,
    ClaimInput,
    ClaimResultSerializer,
    CompleteInput,
    ErrorSerializer,
    FailInput,
    HeartbeatInput,
    HeartbeatResultSerializer,
    MemberAddInput,
    MemberSerializer,
    MemberUpdateInput,
    RunActivityEventSerializer,
    RunCreateInput,
    RunPageSerializer,
    RunSerializer,
    WorkspaceInput,
    WorkspaceSerializer,
    WorkspaceUpdateInput,
    WorkUnitAddInput,
    WorkUnitSerializer,
    claimed_run_data,
    run_document,
)
from runs.services.common import RUN_EVENT_VERBS

RUNS, AGENTS, ACTIVITY, WORKSPACES = ["runs"], ["runs: agents"], ["runs: activity"], ["workspaces"]
_DESCRIPTIONS = {
    400: "VALIDATION_ERROR, PAYLOAD_TOO_LARGE or INVALID_TRANSITION",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND (also another tenant's row)",
    409: "CONFLICT",
}


def fails(*codes: int) -> dict:
    """The error responses of an endpoint, each in the one envelope."""
    return {code: OpenApiResponse(ErrorSerializer, description=_DESCRIPTIONS[code]) for code in codes}


def _valid(serializer_class, data, *, drop: tuple[str, ...] = ()) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return {k: v for k, v in serializer.validated_data.items() if k not in drop}


LIMIT_10 = OpenApiParameter("limit", int, description="Default 10, at most 100")
CURSOR = OpenApiParameter("cursor", str, description="next_cursor of the previous page")


STATUS_FILTER = OpenApiParameter(
    "status", str, enum=RunStatus.values, many=True, explode=False, description="One status or a comma list"
)


class RunsView(TenantAPIView):
    def run_data(self, run) -> dict:
        return run_document(run, tenant=self.request.tenant)

    def page(self, qs, *, default_limit: int) -> Response:
        params = self.request.query_params
        page = selectors.keyset_page(
            qs, cursor=params.get("cursor"), limit=selectors.clamp_limit(params.get("limit"), default=default_limit)
        )
        results = [run_document(run, tenant=self.request.tenant) for run in page.items]
        return Response(
            {"results": results, "next_cursor": page.next_cursor, "has_more": page.has_more, "limit": page.limit}
        )


# --- runs -------------------------------------------------------------------------------------
class RunCreateView(RunsView):
    required_perms = {"POST": Perm.RUN_WORK_UNIT}  # 403 before the body is read (the service checks too)

    @extend_schema(
        tags=RUNS,
        request=RunCreateInput,
        responses={201: RunSerializer, 200: RunSerializer, **fails(400, 403, 404, 409)},
        description="Run a work unit. An **atomic** work unit is a registry activity (`{id}` its UUID or name) with an "
        "ACTIVE deployment for the caller's tenant in `environment`; its run starts `pending` (in process or "
        "offered to agents). A **composite** work unit is a dynamic workflow template (`{id}` its name: the latest "
        "published version; or its id: that version); its run is `running` at once (`execution` `workflow`, "
        "`workflow_instance_ref` the instance) and ends when the instance does. Resolution: `work_unit_type` "
        "composite or atomic looks only there; omitted, a registry activity of that id or name wins, else a "
        "workflow template. 201 with the new run; 200 with the first run for a repeated `idempotency_key`; 404 "
        "for no such work unit; 409 when the activity is suspended or not deployed; 400 for a composite work unit "
        "when no workflow engine is installed, or in-process execution of an activity without a handler.",
    )
    def post(self, request, work_unit_id: str):
        data = _valid(RunCreateInput, request.data)
        run, created = services.run_create(tenant=request.tenant, actor=request.user, work_unit_id=work_unit_id, **data)
        return Response(self.run_data(run), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class WorkUnitRunsView(RunsView):
    @extend_schema(
        tags=RUNS,
        parameters=[LIMIT_10, CURSOR, STATUS_FILTER],
        responses={200: RunPageSerializer, **fails(400, 404)},
    )
    def get(self, request, work_unit_id: str):
        """The work unit's runs (every version), newest first, in keyset pages."""
        statuses = parse_choices(request.query_params, "status", RunStatus.values)  # a bad filter: 400 first
        key = selectors.work_unit_key(tenant=request.tenant, work_unit=work_unit_id)
        filters = selectors.RunFilters(work_unit_id=key, status=statuses)
        return self.page(selectors.run_list(tenant=request.tenant, filters=filters), default_limit=10)


def _uuid(value, name: str):
    if not value:
        return None
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise errors.ValidationError(f"{name} must be a UUID.", details={name: value}) from None


class RunListView(RunsView):
    @extend_schema(
        operation_id="v1_runs_list",
        tags=RUNS,
        parameters=[
            STATUS_FILTER,
            OpenApiParameter("work_unit", str, description="Work unit id (activity name) or activity UUID"),
            OpenApiParameter("user", str, description="User id or username"),
            OpenApiParameter("workspace", str, description="Workspace UUID"),
            OpenApiParameter("created_after", str, description="ISO 8601, inclusive"),
            OpenApiParameter("created_before", str, description="ISO 8601, exclusive"),
            OpenApiParameter("limit", int, description="Default 30, at most 100"),
            CURSOR,
        ],
        responses={200: RunPageSerializer, **fails(400)},
    )
    def get(self, request):
        """The tenant's runs, newest first, in keyset pages (page 10,000 costs what page 1 costs)."""
        params = request.query_params
        work_unit = params.get("work_unit")
        filters = selectors.RunFilters(
            status=parse_choices(params, "status", RunStatus.values),
            work_unit_id=selectors.work_unit_key(tenant=request.tenant, work_unit=work_unit, strict=False)
            if work_unit
            else None,
            user=params.get("user"),
            workspace_id=_uuid(params.get("workspace"), "workspace"),
            created_after=parse_datetime_param(params.get("created_after"), name="created_after"),
            created_before=parse_datetime_param(params.get("created_before"), name="created_before"),
        )
        qs = selectors.run_list(tenant=request.tenant, filters=filters)
        return self.page(qs, default_limit=30)


class RecentRunsView(RunsView):
    @extend_schema(tags=RUNS, parameters=[LIMIT_10], responses={200: RunSerializer(many=True), **fails(400)})
    def get(self, request):
        """The caller's latest runs, newest first."""
        limit = selectors.clamp_limit(request.query_params.get("limit"), default=10)
        runs = selectors.runs_recent(tenant=request.tenant, user=request.user, limit=limit)
        return Response([run_document(run, tenant=request.tenant) for run in runs])


class RunMetadataView(TenantAPIView):
    @extend_schema(tags=RUNS, responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        """The run state machine as data (states, transitions, terminal states), the event types
        it publishes, and the workspace roles."""
        return Response(
            {
                "run": describe(Run, entity_type="run"),
                "event_types": [f"runs.run.{verb}" for verb in RUN_EVENT_VERBS],
                "workspace_roles": WorkspaceRole.values,
                "activity_event_types": ["run", "delegation", "error", "completion"],
            }
        )


class RunDetailView(RunsView):
    @extend_schema(tags=RUNS, responses={200: RunSerializer, **fails(404)})
    def get(self, request, run_id: str):
        return Response(self.run_data(selectors.run_get(tenant=request.tenant, run_id=run_id)))


class RunCancelView(RunsView):
    @extend_schema(
        tags=RUNS,
        request=CancelInput,
        responses={200: RunSerializer, **fails(400, 403, 404)},
        description="A pending run is cancelled at once. A running one gets `cancel_requested` (its agent learns it "
        "on its next heartbeat; an in-process task is revoked) and ends `cancelled` when its executor reports "
        "(complete or fail acknowledges the cancellation) or its lease expires. A finished run: 400 INVALID_TRANSITION.",
    )
    def post(self, request, run_id: str):
        run = services.run_cancel(
            tenant=request.tenant, actor=request.user, run_id=run_id, **_valid(CancelInput, request.data)
        )
        return Response(self.run_data(run))


# --- agents -----------------------------------------------------------------------------------
class AgentView(TenantAPIView):
    required_perms = {"POST": Perm.RECORD_EXECUTION}


class ClaimView(AgentView):
    @extend_schema(
        tags=AGENTS,
        request=ClaimInput,
        responses={200: ClaimResultSerializer, **fails(400, 403)},
        description="Claim up to `max_runs` pending agent runs (of `work_unit` / `topics`, else any), highest "
        "priority then oldest first. Each comes with its `attempt` and a fresh `lease_token`, valid for "
        "`lease_seconds` and extended by heartbeats. `wait_seconds` (≤ 30) long-polls: the answer comes as soon "
        "as a run is claimable, or empty when the wait is over.",
    )
    def post(self, request):
        data = _valid(ClaimInput, request.data)
        topics = services.resolve_topics(tenant=request.tenant, work_unit=data.pop("work_unit", None),
                                         topics=data.pop("topics", None))  # fmt: skip
        runs = services.runs_claim_wait(tenant=request.tenant, actor=request.user, topics=topics, **data)
        return Response({"runs": [claimed_run_data(run) for run in runs]})


class HeartbeatView(AgentView):
    @extend_schema(
        tags=AGENTS,
        request=HeartbeatInput,
        responses={200: HeartbeatResultSerializer, **fails(400, 403, 404, 409)},
        description="Extend the lease (never past the attempt's start-to-close timeout), keep a checkpoint "
        "`details` for the next attempt; the answer says whether cancellation was requested. A stale "
        "`lease_token` or `attempt`: 409, nothing changed.",
    )
    def post(self, request, run_id: str):
        run = services.run_heartbeat(
            tenant=request.tenant, actor=request.user, run_id=run_id, **_valid(HeartbeatInput, request.data)
        )
        return Response(HeartbeatResultSerializer(run).data)


class CompleteView(AgentView, RunsView):
    @extend_schema(
        tags=AGENTS,
        request=CompleteInput,
        responses={200: RunSerializer, **fails(400, 403, 404, 409)},
        description="The attempt succeeded. After a cancellation request the run ends `cancelled` instead (the "
        "output is kept). A stale lease: 409, nothing changed.",
    )
    def post(self, request, run_id: str):
        run = services.run_complete(
            tenant=request.tenant, actor=request.user, run_id=run_id, **_valid(CompleteInput, request.data)
        )
        return Response(self.run_data(run))


class FailView(AgentView, RunsView):
    @extend_schema(
        tags=AGENTS,
        request=FailInput,
        responses={200: RunSerializer, **fails(400, 403, 404, 409)},
        description="The attempt failed. `retryable` with attempts left: back to pending, offered again after "
        "`retry_after` seconds (default: exponential backoff); else `failed`. After a cancellation request the "
        "run ends `cancelled`. A stale lease: 409, nothing changed.",
    )
    def post(self, request, run_id: str):
        run = services.run_fail(
            tenant=request.tenant, actor=request.user, run_id=run_id, **_valid(FailInput, request.data)
        )
        return Response(self.run_data(run))


# --- activity ---------------------------------------------------------------------------------
class TeamActivityView(TenantAPIView):
    @extend_schema(
        tags=ACTIVITY, parameters=[LIMIT_10], responses={200: RunActivityEventSerializer(many=True), **fails(400)}
    )
    def get(self, request):
        """The tenant's latest runs and delegations as activity events (completion, error, run, delegation)."""
        limit = selectors.clamp_limit(request.query_params.get("limit"), default=10)
        return Response(
            RunActivityEventSerializer(selectors.activity_team(tenant=request.tenant, limit=limit), many=True).data
        )


class MyActivityView(TenantAPIView):
    @extend_schema(
        tags=ACTIVITY, parameters=[LIMIT_10], responses={200: RunActivityEventSerializer(many=True), **fails(400)}
    )
    def get(self, request):
        """The caller's latest runs and delegations as activity events."""
        limit = selectors.clamp_limit(request.query_params.get("limit"), default=10)
        events = selectors.activity_my(tenant=request.tenant, user=request.user, limit=limit)
        return Response(RunActivityEventSerializer(events, many=True).data)


class ActivitySummaryView(TenantAPIView):
    @extend_schema(
        tags=ACTIVITY,
        parameters=[OpenApiParameter("hours", int, description="1 to 2160 (90 days), default 24")],
        responses={200: ActivitySummarySerializer, **fails(400)},
    )
    def get(self, request):
        """Runs created in the last `hours` (whole hours) by current status, and the success rate."""
        hours = parse_int(
            request.query_params.get("hours"), name="hours", minimum=1, maximum=selectors.MAX_SUMMARY_HOURS, default=24
        )
        return Response(ActivitySummarySerializer(selectors.activity_summary(tenant=request.tenant, hours=hours)).data)


# --- workspaces -------------------------------------------------------------------------------
class WorkspaceView(TenantAPIView):
    def workspace(self, workspace_id):
        return selectors.workspace_get(tenant=self.request.tenant, workspace_id=workspace_id)

    def workspace_data(self, workspace) -> dict:
        counts = selectors.workspace_counts(workspaces=[workspace])
        return WorkspaceSerializer(workspace, context={"counts": counts}).data

    def limited(self, qs, serializer_class) -> Response:
        paginator = LimitPagination()
        page = paginator.paginate_queryset(qs, self.request, view=self)
        return paginator.get_paginated_response(serializer_class(page, many=True).data)


LIMIT_OFFSET = [
    OpenApiParameter("limit", int, description="Default 30, at most 100"),
    OpenApiParameter("offset", int),
]


class WorkspaceListView(WorkspaceView):
    pagination_class = LimitPagination
    required_perms = {"POST": Perm.MANAGE_WORKSPACE}

    @extend_schema(
        tags=WORKSPACES,
        parameters=[*LIMIT_OFFSET, bool_parameter("archived", "Include archived workspaces")],
        responses=WorkspaceSerializer(many=True),
    )
    def get(self, request):
        include = parse_bool(request.query_params.get("archived"), name="archived")
        qs = selectors.workspace_list(tenant=request.tenant, include_archived=include)
        paginator = LimitPagination()
        page = paginator.paginate_queryset(qs, request, view=self)
        counts = selectors.workspace_counts(workspaces=list(page))
        return paginator.get_paginated_response(WorkspaceSerializer(page, many=True, context={"counts": counts}).data)

    @extend_schema(
        tags=WORKSPACES, request=WorkspaceInput, responses={201: WorkspaceSerializer, **fails(400, 403, 409)}
    )
    def post(self, request):
        """Create a workspace (MANAGE_WORKSPACE); the caller becomes its owner."""
        workspace = services.workspace_create(
            tenant=request.tenant, actor=request.user, **_valid(WorkspaceInput, request.data)
        )
        return Response(self.workspace_data(workspace), status=status.HTTP_201_CREATED)


class WorkspaceDetailView(WorkspaceView):
    @extend_schema(tags=WORKSPACES, responses={200: WorkspaceSerializer, **fails(404)})
    def get(self, request, workspace_id: str):
        return Response(self.workspace_data(self.workspace(workspace_id)))

    @extend_schema(
        tags=WORKSPACES, request=WorkspaceUpdateInput, responses={200: WorkspaceSerializer, **fails(400, 403, 404, 409)}
    )
    def patch(self, request, workspace_id: str):
        """Rename it or change its description (workspace owner/admin, or MANAGE_WORKSPACE)."""
        workspace = services.workspace_update(
            tenant=request.tenant,
            actor=request.user,
            workspace_id=workspace_id,
            **_valid(WorkspaceUpdateInput, request.data),
        )
        return Response(self.workspace_data(workspace))

    @extend_schema(tags=WORKSPACES, responses={204: None, **fails(403, 404)})
    def delete(self, request, workspace_id: str):
        """Archive it (workspaces are never deleted: their runs keep pointing at them)."""
        services.workspace_archive(tenant=request.tenant, actor=request.user, workspace_id=workspace_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WorkspaceArchiveView(WorkspaceView):
    @extend_schema(tags=WORKSPACES, request=ArchiveInput, responses={200: WorkspaceSerializer, **fails(403, 404)})
    def post(self, request, workspace_id: str):
        """Archive it (workspace owner, or MANAGE_WORKSPACE); archiving twice changes nothing."""
        workspace = services.workspace_archive(
            tenant=request.tenant, actor=request.user, workspace_id=workspace_id, **_valid(ArchiveInput, request.data)
        )
        return Response(self.workspace_data(workspace))


class MemberListView(WorkspaceView):
    pagination_class = LimitPagination

    @extend_schema(tags=WORKSPACES, parameters=LIMIT_OFFSET, responses=MemberSerializer(many=True))
    def get(self, request, workspace_id: str):
        return self.limited(selectors.workspace_members(workspace=self.workspace(workspace_id)), MemberSerializer)

    @extend_schema(
        tags=WORKSPACES, request=MemberAddInput, responses={201: MemberSerializer, **fails(400, 403, 404, 409)}
    )
    def post(self, request, workspace_id: str):
        """Add a user of the tenant (id or username) with a role; another tenant's user: 404."""
        member = services.member_add(
            tenant=request.tenant,
            actor=request.user,
            workspace_id=workspace_id,
            **_valid(MemberAddInput, request.data, drop=("invited_by",)),
        )
        return Response(MemberSerializer(member).data, status=status.HTTP_201_CREATED)


class MemberDetailView(WorkspaceView):
    @extend_schema(
        tags=WORKSPACES, request=MemberUpdateInput, responses={200: MemberSerializer, **fails(400, 403, 404, 409)}
    )
    def patch(self, request, workspace_id: str, user_id: str):
        """Change role, constraints or department; the last owner cannot be demoted (409)."""
        member = services.member_update(
            tenant=request.tenant,
            actor=request.user,
            workspace_id=workspace_id,
            user_id=user_id,
            **_valid(MemberUpdateInput, request.data),
        )
        return Response(MemberSerializer(member).data)

    @extend_schema(tags=WORKSPACES, responses={204: None, **fails(403, 404, 409)})
    def delete(self, request, workspace_id: str, user_id: str):
        """Remove a member; the last owner cannot be removed (409)."""
        services.member_remove(tenant=request.tenant, actor=request.user, workspace_id=workspace_id, user_id=user_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WorkUnitListView(WorkspaceView):
    pagination_class = LimitPagination

    @extend_schema(
        tags=WORKSPACES,
        parameters=[*LIMIT_OFFSET, OpenApiParameter("work_unit_type", enum=WorkUnitType.values)],
        responses=WorkUnitSerializer(many=True),
    )
    def get(self, request, workspace_id: str):
        kind = parse_choice(request.query_params, "work_unit_type", WorkUnitType.values)
        qs = selectors.workspace_work_units(workspace=self.workspace(workspace_id), work_unit_type=kind)
        return self.limited(qs, WorkUnitSerializer)

    @extend_schema(
        tags=WORKSPACES, request=WorkUnitAddInput, responses={201: WorkUnitSerializer, **fails(400, 403, 404, 409)}
    )
    def post(self, request, workspace_id: str):
        """Delegate a work unit (registry activity UUID or name) to the workspace."""
        unit = services.work_unit_add(
            tenant=request.tenant,
            actor=request.user,
            workspace_id=workspace_id,
            **_valid(WorkUnitAddInput, request.data, drop=("added_by",)),
        )
        return Response(WorkUnitSerializer(unit).data, status=status.HTTP_201_CREATED)


class WorkUnitDetailView(WorkspaceView):
    @extend_schema(tags=WORKSPACES, responses={204: None, **fails(403, 404)})
    def delete(self, request, workspace_id: str, work_unit_id: str):
        services.work_unit_remove(
            tenant=request.tenant, actor=request.user, workspace_id=workspace_id, work_unit_id=work_unit_id
        )
        return Response(status=status.HTTP_204_NO_CONTENT)
