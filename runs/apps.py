from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "runs"
    verbose_name = "Runs and workspaces"

    def ready(self):
        from runs import demo  # noqa: F401 - registers the demo's in-process handler (PO_Approval)
