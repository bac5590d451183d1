"""Engine paths under ``/api/v1/workflow/`` (included by workflow.urls)."""

from django.urls import path

from workflow.engine import api

A = "workflow/instances/<str:pk>/activities/<str:activity_id>"

urlpatterns = [
    path("workflow/templates", api.TemplateListView.as_view(), name="wf-template-list"),
    path("workflow/templates/validate", api.TemplateValidateView.as_view(), name="wf-template-validate"),
    path("workflow/templates/<str:pk>", api.TemplateDetailView.as_view(), name="wf-template-detail"),
    path("workflow/templates/<str:pk>/publish", api.TemplatePublishView.as_view(), name="wf-template-publish"),
    path(
        "workflow/templates/<str:pk>/new-version", api.TemplateNewVersionView.as_view(), name="wf-template-new-version"
    ),
    path("workflow/templates/<str:pk>/export", api.TemplateExportView.as_view(), name="wf-template-export"),
    path("workflow/handlers", api.HandlerListView.as_view(), name="wf-handler-list"),
    path("workflow/instances", api.InstanceListView.as_view(), name="wf-instance-list"),
    path("workflow/instances/<str:pk>", api.InstanceDetailView.as_view(), name="wf-instance-detail"),
    path("workflow/instances/<str:pk>/cancel", api.InstanceCancelView.as_view(), name="wf-instance-cancel"),
    path("workflow/instances/<str:pk>/retry", api.InstanceRetryView.as_view(), name="wf-instance-retry"),
    path("workflow/instances/<str:pk>/timeline", api.InstanceTimelineView.as_view(), name="wf-instance-timeline"),
    path(f"{A}/complete", api.ActivityCompleteView.as_view(), name="wf-activity-complete"),
    path(f"{A}/retry", api.ActivityRetryView.as_view(), name="wf-activity-retry"),
    path(f"{A}/skip", api.ActivitySkipView.as_view(), name="wf-activity-skip"),
    path("workflow/incidents", api.IncidentListView.as_view(), name="wf-incident-list"),
    path("workflow/incidents/retry", api.IncidentRetryView.as_view(), name="wf-incident-retry"),
]
