"""Seed 003's paths under ``/api/v1/workflow/`` (no trailing slash, as the foundation)."""

from django.urls import path

from workflow import api
from workflow.engine.urls import urlpatterns as engine_urlpatterns

urlpatterns = [
    path("workflow/tasks", api.TaskListView.as_view(), name="workflow-task-list"),
    path("workflow/tasks/<str:pk>", api.TaskDetailView.as_view(), name="workflow-task-detail"),
    path("workflow/tasks/<str:pk>/transition", api.TaskTransitionView.as_view(), name="workflow-task-transition"),
    path("workflow/action-plans", api.ActionPlanListView.as_view(), name="workflow-plan-list"),
    path("workflow/action-plans/<str:pk>", api.ActionPlanDetailView.as_view(), name="workflow-plan-detail"),
    path(
        "workflow/action-plans/<str:pk>/activate", api.ActionPlanActivateView.as_view(), name="workflow-plan-activate"
    ),
    path("workflow/action-plans/<str:pk>/archive", api.ActionPlanArchiveView.as_view(), name="workflow-plan-archive"),
    path("workflow/metadata", api.MetadataView.as_view(), name="workflow-metadata"),
    path("workflow/sla-configs", api.SLAConfigListView.as_view(), name="workflow-sla-config-list"),
    path("workflow/sla-configs/<str:pk>", api.SLAConfigDetailView.as_view(), name="workflow-sla-config-detail"),
    path("workflow/stats", api.StatsView.as_view(), name="workflow-stats"),
]
urlpatterns += engine_urlpatterns
