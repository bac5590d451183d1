"""Helpers shared by the registry services: permission checks, the activity lock, events."""

from __future__ import annotations

from activity_feed.services import publish
from ocx.core import errors
from ocx.core.access import has_perm
from ocx.core.locks import lock_get_or_404, lock_rows
from registry.models import Activity

#: What an activity transition saves besides its status (``updated_at`` is ``auto_now``).
ACTIVITY_FIELDS = ("updated_at",)


def require(actor, tenant, perm: str) -> None:
    if not has_perm(actor, tenant, perm):
        raise errors.PermissionDenied(details={"required_permission": perm})


def lock_activity(*, tenant, activity_id) -> Activity:
    """The activity row, locked for the rest of the transaction; 404 for another tenant's.
    The activity is the parent: lock it before any of its deployments or approvals."""
    return lock_get_or_404(Activity.objects.for_tenant(tenant), "Activity", pk=activity_id)


def lock_activities(*activity_ids, skip_locked: bool = False) -> dict:
    """Several activities (a version and the one whose deployment it supersedes or rolls back
    to), locked together in primary-key order, before any deployment: ``{pk: activity}``.
    With ``skip_locked`` the rows another transaction holds are left out."""
    wanted = {pk for pk in activity_ids if pk is not None}
    return {a.pk: a for a in lock_rows(Activity.objects.all_tenants().filter(pk__in=wanted), skip_locked=skip_locked)}


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


def activity_event(verb: str, *, actor, title: str, priority: str = "normal", **extra):
    """A ``publish=`` callback for ``fsm_transition``: the moved activity's
    ``registry.activity.<verb>`` event (its payload names the new status)."""

    def publish_it(activity, edge, source):
        return publish_activity_event(activity, verb, actor=actor, title=title, priority=priority, **extra)

    return publish_it
