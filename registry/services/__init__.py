"""Registry use cases: the only code that writes registry rows. One function per thing a user
does; each runs in one transaction that also records history and publishes its event."""

from registry.services.activities import (
    activity_create,
    activity_delete,
    activity_new_version,
    activity_request_approval,
    activity_update,
    approval_decide,
    required_approval_types,
)
from registry.services.deployments import (
    activity_deploy,
    activity_reactivate,
    activity_retire,
    activity_suspend,
    deployment_rollback,
    deployments_activate_due,
)
from registry.services.executions import conflict_record, execution_record
from registry.services.runs import execution_record_for_run as execution_record_for_run

__all__ = [
    "activity_create",
    "activity_delete",
    "activity_deploy",
    "activity_new_version",
    "activity_reactivate",
    "activity_request_approval",
    "activity_retire",
    "activity_suspend",
    "activity_update",
    "approval_decide",
    "conflict_record",
    "deployment_rollback",
    "deployments_activate_due",
    "execution_record",
    "required_approval_types",
]
