from django.urls import path

from registry import api

urlpatterns = [
    path("activities", api.ActivityListView.as_view(), name="activity-list"),
    path("activities/latest/<str:name>", api.ActivityLatestView.as_view(), name="activity-latest"),
    path("activities/<str:activity_id>", api.ActivityDetailView.as_view(), name="activity-detail"),
    path(
        "activities/<str:activity_id>/request-approval",
        api.RequestApprovalView.as_view(),
        name="activity-request-approval",
    ),
    path("activities/<str:activity_id>/approve", api.DecideView.as_view(), name="activity-approve"),
    path("activities/<str:activity_id>/approvals", api.ActivityApprovalsView.as_view(), name="activity-approvals"),
    path("activities/<str:activity_id>/deploy", api.DeployView.as_view(), name="activity-deploy"),
    path("activities/<str:activity_id>/deployments", api.DeploymentListView.as_view(), name="activity-deployments"),
    path("activities/<str:activity_id>/rollback", api.RollbackView.as_view(), name="activity-rollback"),
    path("activities/<str:activity_id>/suspend", api.SuspendView.as_view(), name="activity-suspend"),
    path("activities/<str:activity_id>/reactivate", api.ReactivateView.as_view(), name="activity-reactivate"),
    path("activities/<str:activity_id>/retire", api.RetireView.as_view(), name="activity-retire"),
    path("activities/<str:activity_id>/new-version", api.NewVersionView.as_view(), name="activity-new-version"),
    path("activities/<str:activity_id>/versions", api.VersionListView.as_view(), name="activity-versions"),
    path("activities/<str:activity_id>/executions", api.ExecutionListView.as_view(), name="activity-executions"),
    path("activities/<str:activity_id>/stats", api.StatsView.as_view(), name="activity-stats"),
    path("activities/<str:activity_id>/conflicts", api.ConflictListView.as_view(), name="activity-conflicts"),
    path("approvals/pending", api.PendingApprovalsView.as_view(), name="approvals-pending"),
]
