from django.apps import AppConfig


class ActivityFeedConfig(AppConfig):
    name = "activity_feed"
    verbose_name = "Activity feed (event spine)"

    def ready(self):
        from django.db.backends.signals import connection_created

        from activity_feed import titles  # noqa: F401 - registers the readable titles
        from activity_feed.db import install_sqlite_purge_flag

        connection_created.connect(install_sqlite_purge_flag, dispatch_uid="ocx_feed_sqlite_purge_flag")
        _shorten_channels_redis_block()


def _shorten_channels_redis_block() -> None:
    """redis-py >= 6 reads with a 5 s socket timeout by default, and channels-redis blocks in
    BZPOPMIN for 5 s: the two race and an idle live subscriber's receive fails with
    ``redis.exceptions.TimeoutError``. Blocking for less than the socket timeout avoids it.
    (The settings-level fix is ``"hosts": [{"address": REDIS_URL, "socket_timeout": None}]``.)"""
    try:
        from channels_redis.core import RedisChannelLayer
        from redis._defaults import DEFAULT_SOCKET_TIMEOUT
    except ImportError:  # pragma: no cover - embedded mode without channels-redis / old redis-py
        return
    if DEFAULT_SOCKET_TIMEOUT and RedisChannelLayer.brpop_timeout >= DEFAULT_SOCKET_TIMEOUT:
        RedisChannelLayer.brpop_timeout = max(1, int(DEFAULT_SOCKET_TIMEOUT) - 3)
