"""Registry Celery tasks: thin, call one service."""

from celery import shared_task

from ocx.core.audit import acting_as


@shared_task(name="registry.activate_due_deployments", acks_late=True)
def activate_due_deployments() -> dict:
    """Activate deployments whose effective date has come; end those whose range is over."""
    from registry.services import deployments_activate_due

    with acting_as(None, reason="scheduled deployment activation"):
        return deployments_activate_due()
