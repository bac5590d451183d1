from django.apps import AppConfig


class ActivityFeedConfig(AppConfig):
    name = "activity_feed"
    verbose_name = "Activity feed (event spine)"

    def ready(self):
        from django.db.backends.signals import connection_created

        from activity_feed import titles  # noqa: F401 - registers the readable titles
        from activity_feed.db import install_sqlite_purge_flag
        from activity_feed.metrics import OutboxCollector
        from ocx.core.metrics import register_collector

        register_collector(OutboxCollector())
        connection_created.connect(install_sqlite_purge_flag, dispatch_uid="ocx_feed_sqlite_purge_flag")
