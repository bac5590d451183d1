"""Deployments: deploy, activation by effective date, rollback, suspension, retirement."""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from ocx.core import errors
from ocx.core.access import Perm, has_perm
from ocx.core.audit import audited
from ocx.core.db import get_or_404
from ocx.core.models import Tenant
from registry.models import (
    DEPLOYABLE_STATUSES,
    Activity,
    ActivityStatus,
    Deployment,
    DeploymentStatus,
    Environment,
)
from registry.services.common import (
    lock_activity,
    publish_activity_event,
    publish_registry_event,
    require,
    transition,
)

LIVE = (DeploymentStatus.ACTIVE, DeploymentStatus.PENDING)


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


def _end(deployment: Deployment, *, status: str, actor, reason: str) -> None:
    deployment.status = status
    deployment.ended_at = timezone.now()
    deployment.ended_by = actor if getattr(actor, "pk", None) else None
    deployment.end_reason = reason
    deployment.save()


def _sync_activity_after_end(activity_id, *, actor) -> None:
    """An ACTIVE activity whose last active deployment ended goes back to DEPLOYED."""
    activity = Activity.objects.all_tenants().select_for_update().get(pk=activity_id)
    still_live = (
        Deployment.objects.all_tenants().filter(activity_id=activity_id, status=DeploymentStatus.ACTIVE).exists()
    )
    if activity.status == ActivityStatus.ACTIVE and not still_live:
        transition(activity, "deactivate", ActivityStatus.DEPLOYED)
        activity.save()
        publish_activity_event(
            activity, "deactivated", actor=actor, title=f"Activity {activity} has no active deployment"
        )


def _make_active(deployment: Deployment, *, actor) -> Deployment:
    """Supersede whatever is active in the deployment's slot, then make this one ACTIVE. The
    partial unique index decides a race: the loser gets a 409 and nothing is written."""
    current = (
        Deployment.objects.all_tenants()
        .select_for_update()
        .filter(
            tenant_id=deployment.tenant_id,
            activity_name=deployment.activity_name,
            environment=deployment.environment,
            target_tenant_id=deployment.target_tenant_id,
            status=DeploymentStatus.ACTIVE,
        )
        .exclude(pk=deployment.pk)
        .first()
    )
    try:
        with transaction.atomic():
            if current is not None:
                _end(
                    current,
                    status=DeploymentStatus.SUPERSEDED,
                    actor=actor,
                    reason=f"Superseded by {deployment.activity.version}",
                )
                deployment.previous_deployment = current
            deployment.status = DeploymentStatus.ACTIVE
            deployment.save()
    except IntegrityError:
        raise errors.Conflict(
            "Another deployment to this environment and tenant became active at the same time; retry.",
            details={"environment": deployment.environment, "activity_name": deployment.activity_name},
        ) from None
    activity = deployment.activity
    if activity.status != ActivityStatus.ACTIVE:
        transition(activity, "activate", ActivityStatus.ACTIVE)
        activity.save()
        publish_activity_event(
            activity,
            "activated",
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
            _sync_activity_after_end(current.activity_id, actor=actor)
    return deployment


def _target_tenant(actor, tenant, target) -> Tenant:
    """The deployment's target tenant: one the actor belongs to and may deploy to."""
    if target in (None, ""):
        return tenant
    target_tenant = Tenant.objects.filter(slug=str(target)).first()
    if target_tenant is None or not has_perm(actor, target_tenant, Perm.DEPLOY_ACTIVITY):
        raise errors.PermissionDenied("You may not deploy to that tenant.", details={"tenant_id": str(target)})
    return target_tenant


@audited
@transaction.atomic
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
    activity = lock_activity(tenant=tenant, activity_id=activity_id)
    if activity.status not in DEPLOYABLE_STATUSES:
        raise errors.InvalidTransition(
            current_state=activity.status, target_state=ActivityStatus.DEPLOYED, entity_type="activity"
        )
    if activity.status == ActivityStatus.APPROVED:
        transition(activity, "deploy", ActivityStatus.DEPLOYED)
        activity.save()
    deployment = Deployment(
        tenant_id=activity.tenant_id,
        activity=activity,
        activity_name=activity.name,
        environment=environment,
        target_tenant=target,
        status=DeploymentStatus.PENDING,
        effective_from=effective_from,
        effective_until=effective_until,
        deployed_by=actor,
        deployment_notes=deployment_notes,
    )
    deployment.save()
    publish_activity_event(
        activity,
        "deployed",
        actor=actor,
        title=f"Activity {activity} deployed to {environment} ({target.slug})",
        environment=environment,
        target_tenant=target.slug,
        deployment_id=str(deployment.deployment_id),
        effective_from=effective_from.isoformat(),
    )
    if effective_from <= now:
        _make_active(deployment, actor=actor)
    _deployment_event(
        deployment, "created", actor=actor, title=f"{activity} deployment to {environment} {deployment.status.lower()}"
    )
    return deployment


def deployments_activate_due(*, now: datetime | None = None, actor=None) -> dict[str, int]:
    """Beat job: activate PENDING deployments whose effective date has come, and end ACTIVE ones
    whose range is over. Each row in its own transaction; rows another run holds are skipped,
    so two concurrent runs never double an effect."""
    now = now or timezone.now()
    activated = ended = 0
    due = list(
        Deployment.objects.all_tenants()
        .filter(status=DeploymentStatus.PENDING, effective_from__lte=now)
        .order_by("effective_from")
        .values_list("pk", flat=True)[:500]
    )
    for pk in due:
        with transaction.atomic():
            deployment = (
                Deployment.objects.all_tenants()
                .select_for_update(skip_locked=True)
                .select_related("activity", "target_tenant")
                .filter(pk=pk, status=DeploymentStatus.PENDING)
                .first()
            )
            if deployment is None:
                continue
            activity = Activity.objects.all_tenants().select_for_update().get(pk=deployment.activity_id)
            deployment.activity = activity
            if activity.status not in (ActivityStatus.DEPLOYED, ActivityStatus.ACTIVE):
                _end(deployment, status=DeploymentStatus.ENDED, actor=actor, reason=f"Activity is {activity.status}")
                continue
            try:
                _make_active(deployment, actor=actor)
            except errors.Conflict:
                continue
            activated += 1
    expired = list(
        Deployment.objects.all_tenants()
        .filter(status=DeploymentStatus.ACTIVE, effective_until__lte=now)
        .values_list("pk", flat=True)[:500]
    )
    for pk in expired:
        with transaction.atomic():
            deployment = (
                Deployment.objects.all_tenants()
                .select_for_update(skip_locked=True)
                .select_related("target_tenant")
                .filter(pk=pk, status=DeploymentStatus.ACTIVE)
                .first()
            )
            if deployment is None:
                continue
            _end(deployment, status=DeploymentStatus.ENDED, actor=actor, reason="Effective date range ended")
            _deployment_event(
                deployment,
                "ended",
                actor=actor,
                title=f"{deployment.activity_name} {deployment.environment} deployment ended",
            )
            _sync_activity_after_end(deployment.activity_id, actor=actor)
            ended += 1
    return {"activated": activated, "ended": ended}


@audited
@transaction.atomic
def deployment_rollback(*, tenant, actor, activity_id, deployment_id, rollback_reason: str = "") -> Deployment:
    """End the current deployment and reactivate the one it superseded (the rollback chain)."""
    require(actor, tenant, Perm.DEPLOY_ACTIVITY)
    activity = lock_activity(tenant=tenant, activity_id=activity_id)
    deployment = get_or_404(
        Deployment.objects.for_tenant(tenant).select_for_update().select_related("target_tenant"),
        "Deployment",
        pk=deployment_id,
        activity=activity,
    )
    if deployment.status != DeploymentStatus.ACTIVE:
        raise errors.InvalidTransition(
            current_state=deployment.status, target_state=DeploymentStatus.ROLLED_BACK, entity_type="deployment"
        )
    previous = deployment.previous_deployment
    if previous is None:
        raise errors.Conflict(
            "This deployment has no previous deployment to roll back to.", details={"deployment_id": str(deployment.pk)}
        )
    previous = Deployment.objects.all_tenants().select_for_update().select_related("target_tenant").get(pk=previous.pk)
    previous_activity = Activity.objects.all_tenants().select_for_update().get(pk=previous.activity_id)
    if previous_activity.status not in (ActivityStatus.DEPLOYED, ActivityStatus.ACTIVE):
        raise errors.Conflict(
            f"The previous version {previous_activity.version} is {previous_activity.status} and cannot be reactivated.",
            details={"previous_activity_id": str(previous_activity.pk), "status": previous_activity.status},
        )
    _end(deployment, status=DeploymentStatus.ROLLED_BACK, actor=actor, reason=rollback_reason)
    previous.status = DeploymentStatus.ACTIVE
    previous.ended_at = None
    previous.ended_by = None
    previous.end_reason = ""
    previous.save()
    _deployment_event(
        deployment,
        "rolled_back",
        actor=actor,
        priority="high",
        title=f"{activity} rolled back to {previous_activity.version} in {deployment.environment}",
        rollback_reason=rollback_reason,
        reactivated_deployment_id=str(previous.pk),
    )
    if previous_activity.status != ActivityStatus.ACTIVE:
        transition(previous_activity, "activate", ActivityStatus.ACTIVE)
        previous_activity.save()
        publish_activity_event(
            previous_activity, "activated", actor=actor, title=f"Activity {previous_activity} reactivated by rollback"
        )
    _sync_activity_after_end(activity.pk, actor=actor)
    return previous


def _end_live_deployments(activity: Activity, *, status: str, actor, reason: str) -> int:
    live = (
        Deployment.objects.all_tenants().select_for_update().filter(activity=activity, status__in=LIVE).order_by("pk")
    )
    count = 0
    for deployment in live:
        _end(deployment, status=status, actor=actor, reason=reason)
        count += 1
    return count


@audited
@transaction.atomic
def activity_suspend(*, tenant, actor, activity_id, reason: str) -> Activity:
    """Emergency stop: every active (and pending) deployment ends at once; only an explicit
    reactivation makes the activity deployable again."""
    require(actor, tenant, Perm.SUSPEND_ACTIVITY)
    if not (reason or "").strip():
        raise errors.ValidationError("A suspension needs a reason.", details={"reason": "required"})
    activity = lock_activity(tenant=tenant, activity_id=activity_id)
    transition(activity, "suspend", ActivityStatus.SUSPENDED)
    ended = _end_live_deployments(activity, status=DeploymentStatus.SUSPENDED, actor=actor, reason=reason)
    activity.save()
    publish_activity_event(
        activity,
        "suspended",
        actor=actor,
        priority="critical",
        title=f"Activity {activity} suspended: {reason}",
        reason=reason,
        deployments_ended=ended,
    )
    return activity


@audited
@transaction.atomic
def activity_reactivate(*, tenant, actor, activity_id, reason: str = "") -> Activity:
    """Lift a suspension: the activity is APPROVED again and can be deployed."""
    require(actor, tenant, Perm.SUSPEND_ACTIVITY)
    activity = lock_activity(tenant=tenant, activity_id=activity_id)
    transition(activity, "reactivate", ActivityStatus.APPROVED)
    activity.save()
    publish_activity_event(
        activity, "reactivated", actor=actor, priority="high", title=f"Activity {activity} reactivated", reason=reason
    )
    return activity


@audited
@transaction.atomic
def activity_retire(*, tenant, actor, activity_id, reason: str = "") -> Activity:
    """Retire for good: its deployments end and no transition leaves RETIRED."""
    require(actor, tenant, Perm.SUSPEND_ACTIVITY)
    activity = lock_activity(tenant=tenant, activity_id=activity_id)
    transition(activity, "retire", ActivityStatus.RETIRED)
    ended = _end_live_deployments(activity, status=DeploymentStatus.ENDED, actor=actor, reason=reason or "Retired")
    activity.save()
    publish_activity_event(
        activity, "retired", actor=actor, title=f"Activity {activity} retired", reason=reason, deployments_ended=ended
    )
    return activity
