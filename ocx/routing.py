from django.urls import path

from activity_feed.consumers import EventStreamConsumer

websocket_urlpatterns = [
    path("ws/events/", EventStreamConsumer.as_asgi()),
]
