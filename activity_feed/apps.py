from django.apps import AppConfig


class ActivityFeedConfig(AppConfig):
    name = "activity_feed"
    verbose_name = "Activity feed (event spine)"
