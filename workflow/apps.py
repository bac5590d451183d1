from django.apps import AppConfig


class WorkflowConfig(AppConfig):
    name = "workflow"
    verbose_name = "Workflow orchestration"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from activity_feed.services import register_handler
        from ocx.core.metrics import register_collector
        from workflow.automation.dispatcher import forget_trigger_patterns, handle_event
        from workflow.metrics import WorkflowCollector
        from workflow.models import AutomationTrigger

        register_handler(handle_event)
        for signal in (post_save, post_delete):
            signal.connect(forget_trigger_patterns, sender=AutomationTrigger, dispatch_uid=f"ocx_triggers_{signal}")
        register_collector(WorkflowCollector())

        from workflow.engine.handlers import register_builtin_handlers
        from workflow.engine.services.manual import on_event as engine_on_event

        register_builtin_handlers()
        register_handler(engine_on_event)

        from runs.services import register_composite_executor
        from workflow.engine.work_units import EngineCompositeExecutor
        from workflow.engine.work_units import on_event as work_units_on_event

        register_handler(work_units_on_event)
        register_composite_executor(EngineCompositeExecutor())
