"""Helpers shared by the registry services: locking, permission checks, transitions, events."""

from __future__ import annotations

from django_fsm import can_proceed

from activity_feed.services import publish
from ocx.core import errors
from ocx.core.access import has_perm
from ocx.core.db import get_or_404
from registry.models import Activity


def require(actor, tenant, perm: str) -> None:
    if not has_perm(actor, tenant, perm):
        raise errors.PermissionDenied(details={"required_permission": perm})


def lock_activity(*, tenant, activity_id) -> Activity:
    """The activity row, locked for the rest of the transaction; 404 for another tenant's."""
    return get_or_404(Activity.objects.for_tenant(tenant).select_for_update(), "Activity", pk=activity_id)


def transition(activity: Activity, method: str, target: str) -> None:
    """Run a django-fsm transition or raise INVALID_TRANSITION with current and target state."""
    bound = getattr(activity, method)
    if not can_proceed(bound):
        raise errors.InvalidTransition(current_state=activity.status, target_state=target, entity_type="activity")
    bound()


def activity_payload(activity: Activity, **extra) -> dict:
    return {
        "activity_id": str(activity.activity_id),
        "name": activity.name,
        "version": activity.version,
        "status": activity.status,
        **extra,
    }


def publish_registry_event(
    activity: Activity,
    event_type: str,
    *,
    actor,
    title: str,
    source_object_type: str = "activity",
    source_object_id=None,
    priority: str = "normal",
    description: str = "",
    tags: tuple[str, ...] = (),
    **payload,
):
    """Every registry event is about an activity (its entity), correlated by activity name; the
    row it concerns (approval, deployment, execution, conflict) is its source object."""
    return publish(
        tenant=activity.tenant_id,
        type=event_type,
        title=title,
        description=description,
        entity_type="activity",
        entity_id=activity.activity_id,
        source_system="registry",
        source_object_type=source_object_type,
        source_object_id=str(source_object_id if source_object_id is not None else activity.activity_id),
        payload=activity_payload(activity, **payload),
        actor=actor,
        priority=priority,
        tags=["registry", activity.name, *tags],
        correlation_id=f"activity:{activity.name}",
    )


def publish_activity_event(activity: Activity, verb: str, *, actor, title: str, priority: str = "normal", **extra):
    return publish_registry_event(
        activity, f"registry.activity.{verb}", actor=actor, title=title, priority=priority, **extra
    )
