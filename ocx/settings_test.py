"""Test settings: the same settings, with Celery eager, fast hashing and quiet checks."""

from ocx.settings import *  # noqa: F401,F403
from ocx.settings import DATABASES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
SILENCED_SYSTEM_CHECKS = ["ocx.W001"]
WHITENOISE_AUTOREFRESH = True

if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # In-memory test database; the file path is irrelevant for tests.
    DATABASES["default"]["TEST"] = {"NAME": ":memory:"}
