from django.urls import path

from activity_feed.api import EventViewSet

urlpatterns = [
    path("events", EventViewSet.as_view({"get": "list"}), name="event-list"),
    path("events/<str:pk>", EventViewSet.as_view({"get": "retrieve"}), name="event-detail"),
]
