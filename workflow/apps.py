from django.apps import AppConfig


class WorkflowConfig(AppConfig):
    name = "workflow"
    verbose_name = "Workflow orchestration"

    def ready(self):
        from ocx import events, metrics
        from workflow.automation.dispatcher import handle_event
        from workflow.metrics import WorkflowCollector

        events.register_handler(handle_event)
        metrics.register_collector(WorkflowCollector())
