from django.apps import AppConfig


class OcxConfig(AppConfig):
    name = "ocx"
    verbose_name = "OCX core: tenants and access"

    def ready(self):
        from ocx import checks, metrics  # noqa: F401 - checks registers itself

        metrics.register_collector(metrics.OutboxCollector())
