"""Seed 001's paths under ``/api/v1/`` (no trailing slash), plus the agents' endpoints and
workspace CRUD."""

from django.urls import path

from runs import api

urlpatterns = [
    path("work-units/<str:work_unit_id>/run", api.RunCreateView.as_view(), name="work-unit-run"),
    path("work-units/<str:work_unit_id>/runs", api.WorkUnitRunsView.as_view(), name="work-unit-runs"),
    path("runs", api.RunListView.as_view(), name="run-list"),
    path("runs/recent", api.RecentRunsView.as_view(), name="run-recent"),
    path("runs/claim", api.ClaimView.as_view(), name="run-claim"),
    path("runs/metadata", api.RunMetadataView.as_view(), name="run-metadata"),
    path("runs/<str:run_id>", api.RunDetailView.as_view(), name="run-detail"),
    path("runs/<str:run_id>/heartbeat", api.HeartbeatView.as_view(), name="run-heartbeat"),
    path("runs/<str:run_id>/complete", api.CompleteView.as_view(), name="run-complete"),
    path("runs/<str:run_id>/fail", api.FailView.as_view(), name="run-fail"),
    path("runs/<str:run_id>/cancel", api.RunCancelView.as_view(), name="run-cancel"),
    path("activity/team", api.TeamActivityView.as_view(), name="activity-team"),
    path("activity/my", api.MyActivityView.as_view(), name="activity-my"),
    path("activity/summary", api.ActivitySummaryView.as_view(), name="activity-summary"),
    path("workspaces", api.WorkspaceListView.as_view(), name="workspace-list"),
    path("workspaces/<str:workspace_id>", api.WorkspaceDetailView.as_view(), name="workspace-detail"),
    path("workspaces/<str:workspace_id>/archive", api.WorkspaceArchiveView.as_view(), name="workspace-archive"),
    path("workspaces/<str:workspace_id>/members", api.MemberListView.as_view(), name="workspace-members"),
    path(
        "workspaces/<str:workspace_id>/members/<str:user_id>",
        api.MemberDetailView.as_view(),
        name="workspace-member",
    ),
    path("workspaces/<str:workspace_id>/work-units", api.WorkUnitListView.as_view(), name="workspace-work-units"),
    path(
        "workspaces/<str:workspace_id>/work-units/<str:work_unit_id>",
        api.WorkUnitDetailView.as_view(),
        name="workspace-work-unit",
    ),
]
