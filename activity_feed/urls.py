from django.urls import path

from activity_feed import api, sse
from activity_feed.ingest import views as ingest

urlpatterns = [
    path("events", api.EventListCreateView.as_view(), name="event-list"),
    path("events/stream", sse.event_stream, name="event-stream"),
    path("events/stats", api.EventStatsView.as_view(), name="event-stats"),
    path("events/read-all", api.EventReadAllView.as_view(), name="event-read-all"),
    path("events/<str:pk>/read", api.EventReadView.as_view(), name="event-read"),
    path("events/<str:pk>", api.EventDetailView.as_view(), name="event-detail"),
    path("ingest/salesforce", ingest.SalesforceIngestView.as_view(), name="ingest-salesforce"),
    path("ingest/hubspot", ingest.HubSpotIngestView.as_view(), name="ingest-hubspot"),
    path("ingest/webhook/<str:source>", ingest.WebhookIngestView.as_view(), name="ingest-webhook"),
]
