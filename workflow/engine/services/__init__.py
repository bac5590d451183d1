"""Engine use cases (the only code that writes engine rows)."""

from workflow.engine.services.execute import execute_activity  # noqa: F401
from workflow.engine.services.manual import activity_complete_manual, activity_escalate  # noqa: F401
from workflow.engine.services.operations import (  # noqa: F401
    activity_skip,
    incidents_retry,
    instance_cancel,
    instance_compensate,
    instance_retry,
    sweep,
)
from workflow.engine.services.runtime import activity_begin, activity_fail, activity_succeed, instance_start  # noqa: F401
from workflow.engine.services.templates import (  # noqa: F401
    template_create,
    template_export,
    template_new_version,
    template_publish,
    validate_definition,
)
