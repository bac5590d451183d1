"""Workflow use cases (the only code that writes workflow rows)."""

from workflow.services.action_plans import (  # noqa: F401
    action_plan_activate,
    action_plan_archive,
    action_plan_create,
    action_plan_transition,
)
from workflow.services.sla import (  # noqa: F401
    sla_config_create,
    sla_config_delete,
    sla_config_update,
    sla_scan,
)
from workflow.services.tasks import task_create, task_transition  # noqa: F401
from workflow.services.triggers import trigger_create, trigger_update  # noqa: F401
