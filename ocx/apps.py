from django.apps import AppConfig


class OcxConfig(AppConfig):
    name = "ocx"
    verbose_name = "OCX core: tenants and access"

    def ready(self):
        from ocx import checks, metrics  # noqa: F401 - checks registers itself

        metrics.register_collector(metrics.OutboxCollector())

        from django.db.backends.signals import connection_created

        from ocx.db import install_sqlite_guard

        connection_created.connect(install_sqlite_guard, dispatch_uid="ocx_sqlite_guard")
