"""Deployments: deploy, activation by effective date, rollback, suspension, retirement.

Lock order (``ocx.core.locks``): activities first, then deployments. A path that touches two
activities — a deployment superseding another version's in its slot, a rollback to the previous
version — reads which ones before taking any lock, locks both together in primary-key order, then
the deployments, and re-checks under the locks what it read.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from ocx.core import errors
from ocx.core.access import Perm, has_perm
from ocx.core.db import get_or_404
from ocx.core.fsm import fsm_transition, resolve
from ocx.core.locks import lock_one, lock_rows
from ocx.core.models import Tenant
from ocx.core.services import service
from registry.models import (
    Activity,
    ActivityStatus,
    Deployment,
    DeploymentStatus,
    Environment,
)
from registry.rules import can_suspend
from registry.services.common import (
    ACTIVITY_FIELDS,
    activity_event,
    lock_activities,
    lock_activity,
    publish_registry_event,
    require,
)

LIVE = (DeploymentStatus.ACTIVE, DeploymentStatus.PENDING)
#: What ending a deployment saves besides its status.
END_FIELDS = ("ended_at", "ended_by", "end_reason")
RACE = "Another deployment to this environment and tenant became active at the same time; retry."


def _deployment_event(deployment: Deployment, verb: str, *, actor, title: str, priority: str = "normal", **extra):
    return publish_registry_event(
        deployment.activity,
        f"registry.deployment.{verb}",
        actor=actor,
        title=title,
        priority=priority,
        source_object_type="deployment",
        source_object_id=deployment.deployment_id,
        tags=("deployment", deployment.environment),
        deployment_id=str(deployment.deployment_id),
        environment=deployment.environment,
        target_tenant=deployment.target_tenant.slug,
        deployment_status=deployment.status,
        previous_deployment_id=str(deployment.previous_deployment_id) if deployment.previous_deployment_id else None,
        **extra,
    )


def _end(deployment: Deployment, transition: str, *, actor, reason: str, publish=None) -> None:
    """End a deployment (``supersede``, ``roll_back``, ``end_by_suspension``, ``end``): who,
    when and why are recorded on the row."""
    fsm_transition(
        deployment,
        entity_type="deployment",
        actor=actor,
        name=transition,
        lock=False,
        arguments={"by": actor, "reason": reason},
        update_fields=END_FIELDS,
        publish=publish,
    )


def _activity_transition(activity: Activity, name: str, *, actor, publish) -> None:
    """Move an activity (locked by the caller) along ``name``, saving ``ACTIVITY_FIELDS``."""
    fsm_transition(
        activity,
        entity_type="activity",
        actor=actor,
        name=name,
        lock=False,
        update_fields=ACTIVITY_FIELDS,
        publish=publish,
    )


def _deactivate_if_idle(activity: Activity, *, actor) -> None:
    """An ACTIVE activity whose last active deployment ended goes back to DEPLOYED (the caller
    holds the activity's lock)."""
    still_live = Deployment.objects.all_tenants().filter(activity=activity, status=DeploymentStatus.ACTIVE).exists()
    if activity.status == ActivityStatus.ACTIVE and not still_live:
        _activity_transition(
            activity,
            "deactivate",
            actor=actor,
            publish=activity_event("deactivated", actor=actor, title=f"Activity {activity} has no active deployment"),
        )


def _in_slot(*, tenant_id, activity_name: str, environment: str, target_tenant_id):
    """The deployments of one slot (owner tenant, activity name, environment, target tenant)."""
    return Deployment.objects.all_tenants().filter(
        tenant_id=tenant_id, activity_name=activity_name, environment=environment, target_tenant_id=target_tenant_id
    )


def _slot_of(deployment: Deployment):
    return _in_slot(
        tenant_id=deployment.tenant_id,
        activity_name=deployment.activity_name,
        environment=deployment.environment,
        target_tenant_id=deployment.target_tenant_id,
    )


def _holder_activity_id(slot):
    """Unlocked read: the activity whose deployment is ACTIVE in the slot (the one a new
    deployment there supersedes), so that it can be locked before any deployment."""
    return slot.filter(status=DeploymentStatus.ACTIVE).values_list("activity_id", flat=True).first()


def _go_live(deployment: Deployment, *, activities: dict, actor) -> Deployment:
    """Supersede whatever is active in the deployment's slot, then make this one ACTIVE. The
    caller holds the locks of ``activities`` (the deployment's and the slot holder's); the
    partial unique index decides a race with another deployment going live: the loser gets a
    409 and nothing is written."""
    current = lock_one(
        _slot_of(deployment)
        .filter(status=DeploymentStatus.ACTIVE)
        .exclude(pk=deployment.pk)
        .select_related("target_tenant"),
        of=("self",),
    )
    if current is not None and current.activity_id not in activities:
        # Another version went live in the slot after we looked: its activity is not locked.
        raise errors.Conflict(
            RACE, details={"environment": deployment.environment, "activity_name": deployment.activity_name}
        )
    activity = activities[deployment.activity_id]
    try:
        with transaction.atomic():  # a savepoint: the unique index refuses a second ACTIVE
            if current is not None:
                current.activity = activities[current.activity_id]
                _end(current, "supersede", actor=actor, reason=f"Superseded by {activity.version}")
            fsm_transition(
                deployment,
                entity_type="deployment",
                actor=actor,
                name="activate",
                lock=False,
                arguments={"previous": current},
                update_fields=("previous_deployment",),
            )
    except IntegrityError:
        raise errors.Conflict(
            RACE, details={"environment": deployment.environment, "activity_name": deployment.activity_name}
        ) from None
    _activate_activity(
        activity,
        actor=actor,
        title=f"Activity {activity} active in {deployment.environment}",
        environment=deployment.environment,
    )
    if current is not None:
        _deployment_event(
            current,
            "superseded",
            actor=actor,
            title=f"{current.activity_name} {current.environment} deployment superseded",
        )
        if current.activity_id != activity.pk:
            _deactivate_if_idle(current.activity, actor=actor)
    return deployment


def _target_tenant(actor, tenant, target) -> Tenant:
    """The deployment's target tenant: one the actor belongs to and may deploy to."""
    if target in (None, ""):
        return tenant
    target_tenant = Tenant.objects.filter(slug=str(target)).first()
    if target_tenant is None or not has_perm(actor, target_tenant, Perm.DEPLOY_ACTIVITY):
        raise errors.PermissionDenied("You may not deploy to that tenant.", details={"tenant_id": str(target)})
    return target_tenant


@service
def activity_deploy(
    *,
    tenant,
    actor,
    activity_id,
    environment: str,
    target_tenant=None,
    deployment_notes: str = "",
    effective_from: datetime | None = None,
    effective_until: datetime | None = None,
) -> Deployment:
    """Deploy an approved activity to an environment of a tenant. Effective now: it becomes the
    ACTIVE deployment at once (superseding the previous one, which it links to); effective later:
    PENDING until the beat job activates it."""
    require(actor, tenant, Perm.DEPLOY_ACTIVITY)
    if environment not in Environment.values:
        raise errors.ValidationError("environment must be DEV, STAGING or PROD.", details={"environment": environment})
    target = _target_tenant(actor, tenant, target_tenant)
    now = timezone.now()
    effective_from = effective_from or now
    if effective_until is not None and effective_until <= effective_from:
        raise errors.ValidationError("effective_until must be after effective_from.")
    live_now = effective_from <= now
    activity = get_or_404(Activity.objects.for_tenant(tenant), "Activity", pk=activity_id)
    holder = None
    if live_now:
        slot = _in_slot(
            tenant_id=activity.tenant_id,
            activity_name=activity.name,
            environment=environment,
            target_tenant_id=target.pk,
        )
        holder = _holder_activity_id(slot)
    activities = lock_activities(activity.pk, holder)
    if activity.pk not in activities:  # deleted since it was read
        get_or_404(Activity.objects.for_tenant(tenant), "Activity", pk=activity_id)
    activity = activities[activity.pk]
    edge, _ = resolve(activity, entity_type="activity", name="deploy")  # refused before anything is written
    deployment = Deployment(
        tenant_id=activity.tenant_id,
        activity=activity,
        activity_name=activity.name,
        environment=environment,
        target_tenant=target,
        effective_from=effective_from,
        effective_until=effective_until,
        deployed_by=actor,
        deployment_notes=deployment_notes,
    )
    deployment.save()
    announce = activity_event(
        "deployed",
        actor=actor,
        title=f"Activity {activity} deployed to {environment} ({target.slug})",
        environment=environment,
        target_tenant=target.slug,
        deployment_id=str(deployment.deployment_id),
        effective_from=effective_from.isoformat(),
    )
    if edge.target != edge.source:
        _activity_transition(activity, "deploy", actor=actor, publish=announce)
    else:  # a deployed or active activity keeps its state: nothing of it to save
        announce(activity, edge, edge.source)
    if live_now:
        _go_live(deployment, activities=activities, actor=actor)
    _deployment_event(
        deployment, "created", actor=actor, title=f"{activity} deployment to {environment} {deployment.status.lower()}"
    )
    return deployment


def deployments_activate_due(*, now: datetime | None = None, actor=None) -> dict[str, int]:
    """Beat job: activate PENDING deployments whose effective date has come, and end ACTIVE ones
    whose range is over. Each row is its own service call (its own transaction and lock scope,
    not one for the batch): a row that fails or waits never holds back or undoes the others,
    and a row whose activity another transaction holds is skipped until the next run, so two
    concurrent runs never double an effect."""
    now = now or timezone.now()
    due = list(
        Deployment.objects.all_tenants()
        .filter(status=DeploymentStatus.PENDING, effective_from__lte=now)
        .order_by("effective_from")
        .values_list("pk", flat=True)[:500]
    )
    activated = sum(_activate_due(deployment_id=pk, actor=actor) for pk in due)
    expired = list(
        Deployment.objects.all_tenants()
        .filter(status=DeploymentStatus.ACTIVE, effective_until__lte=now)
        .values_list("pk", flat=True)[:500]
    )
    ended = sum(_end_expired(deployment_id=pk, actor=actor) for pk in expired)
    return {"activated": activated, "ended": ended}


def _lock_deployment(deployment_id, status: str) -> Deployment | None:
    """Lock the deployment if it is still in ``status`` (the caller holds its activity's lock)."""
    return lock_one(
        Deployment.objects.all_tenants().filter(pk=deployment_id, status=status).select_related("target_tenant"),
        of=("self",),
    )


def _activate_activity(activity: Activity, *, actor, title: str, **extra) -> None:
    """An activity that is not ACTIVE yet becomes ACTIVE (the caller holds its lock)."""
    if activity.status != ActivityStatus.ACTIVE:
        _activity_transition(
            activity, "activate", actor=actor, publish=activity_event("activated", actor=actor, title=title, **extra)
        )


@service
def _activate_due(*, deployment_id, actor) -> bool:
    """One due deployment: its activity (and the one whose deployment it supersedes) locked
    first, then the deployment, still PENDING. An activity no longer deployable ends it."""
    row = (
        Deployment.objects.all_tenants()
        .filter(pk=deployment_id, status=DeploymentStatus.PENDING)
        .values("activity_id", "tenant_id", "activity_name", "environment", "target_tenant_id")
        .first()
    )
    if row is None:
        return False
    activity_id = row.pop("activity_id")
    wanted = {activity_id, _holder_activity_id(_in_slot(**row))} - {None}
    activities = lock_activities(*wanted, skip_locked=True)
    if len(activities) < len(wanted):
        return False  # another transaction holds one of them: the next run takes the row
    deployment = _lock_deployment(deployment_id, DeploymentStatus.PENDING)
    if deployment is None:
        return False  # another run, or a suspension, got there first
    activity = deployment.activity = activities[deployment.activity_id]
    if activity.status not in (ActivityStatus.DEPLOYED, ActivityStatus.ACTIVE):
        _end(deployment, "end", actor=actor, reason=f"Activity is {activity.status}")
        return False
    try:
        _go_live(deployment, activities=activities, actor=actor)
    except errors.Conflict:
        return False
    return True


@service
def _end_expired(*, deployment_id, actor) -> bool:
    """One deployment whose effective range is over: its activity locked first, then the
    deployment, still ACTIVE."""
    activity_id = (
        Deployment.objects.all_tenants()
        .filter(pk=deployment_id, status=DeploymentStatus.ACTIVE)
        .values_list("activity_id", flat=True)
        .first()
    )
    if activity_id is None:
        return False
    activity = lock_one(Activity.objects.all_tenants().filter(pk=activity_id), skip_locked=True)
    if activity is None:
        return False  # another transaction holds it: the next run takes the row
    deployment = _lock_deployment(deployment_id, DeploymentStatus.ACTIVE)
    if deployment is None:
        return False
    deployment.activity = activity
    _end(
        deployment,
        "end",
        actor=actor,
        reason="Effective date range ended",
        publish=lambda d, edge, source: _deployment_event(
            d, "ended", actor=actor, title=f"{d.activity_name} {d.environment} deployment ended"
        ),
    )
    _deactivate_if_idle(activity, actor=actor)
    return True


@service
def deployment_rollback(*, tenant, actor, activity_id, deployment_id, rollback_reason: str = "") -> Deployment:
    """End the current deployment and reactivate the one it superseded (the rollback chain)."""
    require(actor, tenant, Perm.DEPLOY_ACTIVITY)
    # Which rows: read first, locked below (both activities, then both deployments).
    activity = get_or_404(Activity.objects.for_tenant(tenant), "Activity", pk=activity_id)
    seen = get_or_404(Deployment.objects.for_tenant(tenant), "Deployment", pk=deployment_id, activity=activity)
    previous_id = seen.previous_deployment_id
    previous_activity_id = (
        Deployment.objects.all_tenants().filter(pk=previous_id).values_list("activity_id", flat=True).first()
        if previous_id
        else None
    )
    activities = lock_activities(activity.pk, previous_activity_id)
    rows = {
        d.pk: d
        for d in lock_rows(
            Deployment.objects.all_tenants()
            .filter(pk__in={seen.pk, previous_id} - {None})
            .select_related("target_tenant"),
            of=("self",),
        )
    }
    activity, deployment = activities[activity.pk], rows[seen.pk]
    deployment.activity = activity
    if deployment.status != DeploymentStatus.ACTIVE:
        raise errors.InvalidTransition(
            current_state=deployment.status, target_state=DeploymentStatus.ROLLED_BACK, entity_type="deployment"
        )
    if deployment.previous_deployment_id is None:
        raise errors.Conflict(
            "This deployment has no previous deployment to roll back to.", details={"deployment_id": str(deployment.pk)}
        )
    if deployment.previous_deployment_id != previous_id:  # it went live after we looked
        raise errors.Conflict(RACE, details={"deployment_id": str(deployment.pk)})
    previous = rows[previous_id]
    previous_activity = previous.activity = activities[previous.activity_id]
    if previous_activity.status not in (ActivityStatus.DEPLOYED, ActivityStatus.ACTIVE):
        raise errors.Conflict(
            f"The previous version {previous_activity.version} is {previous_activity.status} and cannot be reactivated.",
            details={"previous_activity_id": str(previous_activity.pk), "status": previous_activity.status},
        )
    _end(
        deployment,
        "roll_back",
        actor=actor,
        reason=rollback_reason,
        publish=lambda d, edge, source: _deployment_event(
            d,
            "rolled_back",
            actor=actor,
            priority="high",
            title=f"{activity} rolled back to {previous_activity.version} in {d.environment}",
            rollback_reason=rollback_reason,
            reactivated_deployment_id=str(previous.pk),
        ),
    )
    fsm_transition(
        previous, entity_type="deployment", actor=actor, name="reactivate", lock=False, update_fields=END_FIELDS
    )
    _activate_activity(previous_activity, actor=actor, title=f"Activity {previous_activity} reactivated by rollback")
    _deactivate_if_idle(activity, actor=actor)
    return previous


def _end_live_deployments(activity: Activity, *, transition: str, actor, reason: str) -> int:
    """End every live deployment of ``activity`` (locked by the caller), in primary-key order."""
    live = lock_rows(Deployment.objects.all_tenants().filter(activity=activity, status__in=LIVE))
    for deployment in live:
        _end(deployment, transition, actor=actor, reason=reason)
    return len(live)


@service
def activity_suspend(*, tenant, actor, activity_id, reason: str) -> Activity:
    """Emergency stop: every active (and pending) deployment ends at once; only an explicit
    reactivation makes the activity deployable again."""
    require(actor, tenant, Perm.SUSPEND_ACTIVITY)
    if not (reason or "").strip():
        raise errors.ValidationError("A suspension needs a reason.", details={"reason": "required"})
    activity = lock_activity(tenant=tenant, activity_id=activity_id)
    resolve(activity, entity_type="activity", name="suspend")  # refused before any deployment ends
    suspendable, why = can_suspend(activity)
    if not suspendable:
        raise errors.InvalidTransition(
            current_state=activity.status, target_state=ActivityStatus.SUSPENDED, entity_type="activity", message=why
        )
    ended = _end_live_deployments(activity, transition="end_by_suspension", actor=actor, reason=reason)
    _activity_transition(
        activity,
        "suspend",
        actor=actor,
        publish=activity_event(
            "suspended",
            actor=actor,
            priority="critical",
            title=f"Activity {activity} suspended: {reason}",
            reason=reason,
            deployments_ended=ended,
        ),
    )
    return activity


@service
def activity_reactivate(*, tenant, actor, activity_id, reason: str = "") -> Activity:
    """Lift a suspension: the activity is APPROVED again and can be deployed."""
    require(actor, tenant, Perm.SUSPEND_ACTIVITY)
    activity = lock_activity(tenant=tenant, activity_id=activity_id)
    _activity_transition(
        activity,
        "reactivate",
        actor=actor,
        publish=activity_event(
            "reactivated", actor=actor, priority="high", title=f"Activity {activity} reactivated", reason=reason
        ),
    )
    return activity


@service
def activity_retire(*, tenant, actor, activity_id, reason: str = "") -> Activity:
    """Retire for good: its deployments end and no transition leaves RETIRED."""
    require(actor, tenant, Perm.SUSPEND_ACTIVITY)
    activity = lock_activity(tenant=tenant, activity_id=activity_id)
    resolve(activity, entity_type="activity", name="retire")  # refused before any deployment ends
    ended = _end_live_deployments(activity, transition="end", actor=actor, reason=reason or "Retired")
    _activity_transition(
        activity,
        "retire",
        actor=actor,
        publish=activity_event(
            "retired", actor=actor, title=f"Activity {activity} retired", reason=reason, deployments_ended=ended
        ),
    )
    return activity
