from django.apps import AppConfig


class OcxConfig(AppConfig):
    name = "ocx"
    verbose_name = "OCX core: tenants and access"

    def ready(self):
        from django.db.backends.signals import connection_created

        from ocx import checks  # noqa: F401 - registers itself
        from ocx.core import metrics  # noqa: F401 - Celery task counters
        from ocx.core.db import install_sqlite_guard

        connection_created.connect(install_sqlite_guard, dispatch_uid="ocx_sqlite_guard")
