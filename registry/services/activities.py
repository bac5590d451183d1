"""Activities: create, edit while a draft, new versions, and the approval rounds."""

from __future__ import annotations

import semver
from django.conf import settings
from django.db import IntegrityError, transaction

from ocx.core import errors
from ocx.core.access import Perm
from ocx.core.fsm import fsm_transition
from ocx.core.locks import lock_get_or_404, lock_rows
from ocx.core.services import service
from registry.models import (
    CONTENT_FIELDS,
    Activity,
    ActivityStatus,
    ActivityVersion,
    Approval,
    ApprovalStatus,
    ApprovalType,
    ExecutionStats,
    VersionType,
)
from registry.rules import can_decide
from registry.services.common import (
    ACTIVITY_FIELDS,
    activity_event,
    lock_activity,
    publish_activity_event,
    publish_registry_event,
    require,
)

EDITABLE_FIELDS = frozenset(CONTENT_FIELDS)
#: The governed EBCL text may be long, not unbounded. Every path that writes it (API, admin forms,
#: imports) comes through these services; the API's serializers publish the same cap as maxLength.
EBCL_SOURCE_MAX_LENGTH = 200_000


def required_approval_types() -> list[str]:
    """Approval types an activity needs before it is APPROVED (``OCX_REGISTRY_REQUIRED_APPROVALS``,
    default all four)."""
    configured = settings.OCX_REGISTRY_REQUIRED_APPROVALS
    unknown = set(configured) - set(ApprovalType.values)
    if unknown:
        raise errors.ApplicationError(f"OCX_REGISTRY_REQUIRED_APPROVALS has unknown types: {sorted(unknown)}")
    return [t for t in ApprovalType.values if t in configured]


def _check_version(version: str) -> None:
    if not semver.Version.is_valid(version or ""):
        raise errors.ValidationError(
            "version must be a semantic version (MAJOR.MINOR.PATCH).", details={"version": version}
        )


def _check_ebcl_source(ebcl_source: str | None) -> None:
    if ebcl_source is not None and len(ebcl_source) > EBCL_SOURCE_MAX_LENGTH:
        # DRF's own wording for a CharField's max_length: one message whichever path refused it.
        message = f"Ensure this field has no more than {EBCL_SOURCE_MAX_LENGTH} characters."
        raise errors.ValidationError(message, details={"ebcl_source": [message]})


def _insert_activity(*, tenant, actor, fields: dict) -> Activity:
    try:
        with transaction.atomic():  # a savepoint: the unique constraint answers a duplicate
            activity = Activity(tenant_id=getattr(tenant, "pk", tenant), created_by=actor, **fields)
            if not isinstance(tenant, int):
                activity.tenant = tenant  # the response names the tenant's slug: no query for it
            activity.save()
    except IntegrityError:
        raise errors.Conflict(
            f"Activity {fields['name']} {fields['version']} already exists.",
            details={"name": fields["name"], "version": fields["version"]},
        ) from None
    ExecutionStats.objects.create(activity=activity)
    return activity


@service
def activity_create(
    *,
    tenant,
    actor,
    name: str,
    version: str,
    ebcl_source: str,
    owner: str,
    authority: str = "",
    description: str = "",
    category: str = "",
) -> Activity:
    """A new activity starts as a DRAFT; (tenant, name, version) is unique."""
    require(actor, tenant, Perm.CREATE_ACTIVITY)
    _check_version(version)
    _check_ebcl_source(ebcl_source)
    fields = dict(
        name=name,
        version=version,
        ebcl_source=ebcl_source,
        owner=owner,
        authority=authority,
        description=description,
        category=category,
    )
    activity = _insert_activity(tenant=tenant, actor=actor, fields=fields)
    ActivityVersion.objects.create(
        tenant_id=activity.tenant_id,
        activity=activity,
        name=name,
        version=version,
        change_summary="Initial version",
        created_by=actor,
    )
    publish_activity_event(activity, "created", actor=actor, title=f"Activity {name} {version} created")
    return activity


@service
def activity_update(*, tenant, actor, activity_id, **changes) -> Activity:
    """Content can change only before approval; after that, make a new version."""
    require(actor, tenant, Perm.CREATE_ACTIVITY)
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise errors.ValidationError("These fields cannot be changed.", details={"fields": sorted(unknown)})
    _check_ebcl_source(changes.get("ebcl_source"))
    activity = lock_activity(tenant=tenant, activity_id=activity_id)
    if activity.is_frozen:
        raise errors.Immutable(
            f"Activity {activity} is {activity.status}: its content is frozen. Create a new version instead.",
            details={"activity_id": str(activity.activity_id), "status": activity.status},
        )
    if "version" in changes:
        _check_version(changes["version"])
    changed = [field for field, value in changes.items() if getattr(activity, field) != value]
    if not changed:
        return activity
    for field in changed:
        setattr(activity, field, changes[field])
    try:
        with transaction.atomic():  # a savepoint: the unique constraint answers a duplicate
            activity.save()
    except IntegrityError:
        raise errors.Conflict(f"Activity {activity.name} {activity.version} already exists.") from None
    publish_activity_event(
        activity, "updated", actor=actor, title=f"Activity {activity} updated", changed_fields=changed
    )
    return activity


@service
def activity_delete(*, tenant, actor, activity_id) -> None:
    """Only an activity that was never approved may be deleted."""
    require(actor, tenant, Perm.CREATE_ACTIVITY)
    activity = lock_activity(tenant=tenant, activity_id=activity_id)
    if activity.is_frozen:
        raise errors.Immutable(
            f"Activity {activity} is {activity.status} and cannot be deleted.",
            details={"activity_id": str(activity.activity_id), "status": activity.status},
        )
    publish_activity_event(activity, "deleted", actor=actor, title=f"Activity {activity} deleted")
    Approval.objects.for_tenant(tenant).filter(activity=activity).delete()
    ActivityVersion.objects.for_tenant(tenant).filter(activity=activity).delete()
    activity.delete()


def _bump(version: semver.Version, version_type: str) -> semver.Version:
    return {
        VersionType.MAJOR: version.bump_major,
        VersionType.MINOR: version.bump_minor,
        VersionType.PATCH: version.bump_patch,
    }[version_type]()


@service
def activity_new_version(
    *,
    tenant,
    actor,
    activity_id,
    version_type: str,
    change_summary: str,
    breaking_changes: list[str] | None = None,
    ebcl_source: str | None = None,
    description: str | None = None,
) -> Activity:
    """Copy an activity into a new DRAFT whose version is the name's highest version bumped by
    ``version_type``; a MAJOR bump must list at least one breaking change."""
    require(actor, tenant, Perm.CREATE_ACTIVITY)
    if version_type not in VersionType.values:
        raise errors.ValidationError(
            "version_type must be MAJOR, MINOR or PATCH.", details={"version_type": version_type}
        )
    breaking_changes = [str(change) for change in (breaking_changes or []) if str(change).strip()]
    if version_type == VersionType.MAJOR and not breaking_changes:
        raise errors.ValidationError(
            "A MAJOR version must list at least one breaking change.", details={"breaking_changes": []}
        )
    _check_ebcl_source(ebcl_source)
    source = lock_activity(tenant=tenant, activity_id=activity_id)
    siblings = Activity.objects.for_tenant(tenant).filter(name=source.name).values_list("version", flat=True)
    highest = max(semver.Version.parse(v) for v in siblings)
    new_version = str(_bump(highest, version_type))
    fields = {field: getattr(source, field) for field in CONTENT_FIELDS}
    fields["version"] = new_version
    if ebcl_source is not None:
        fields["ebcl_source"] = ebcl_source
    if description is not None:
        fields["description"] = description
    activity = _insert_activity(tenant=tenant, actor=actor, fields=fields)
    ActivityVersion.objects.create(
        tenant_id=activity.tenant_id,
        activity=activity,
        previous_activity=source,
        name=activity.name,
        version=new_version,
        version_type=version_type,
        change_summary=change_summary,
        breaking_changes=breaking_changes,
        created_by=actor,
    )
    publish_activity_event(
        activity,
        "version_created",
        actor=actor,
        title=f"Activity {activity.name} {new_version} created from {source.version}",
        previous_version=source.version,
        version_type=version_type,
        breaking_changes=breaking_changes,
    )
    return activity


# --- approvals ------------------------------------------------------------------------------


@service
def activity_request_approval(
    *,
    tenant,
    actor,
    activity_id,
    approval_type: str | None = None,
    approver_id: str = "",
    approver_role: str = "",
    comments: str = "",
) -> tuple[Activity, list[Approval]]:
    """Ask for an approval (or, without a type, every required type not yet asked for).
    The first request of a DRAFT opens a new review round and moves it to REVIEW."""
    require(actor, tenant, Perm.REQUEST_APPROVAL)
    if approval_type is not None and approval_type not in ApprovalType.values:
        raise errors.ValidationError(
            "Unknown approval_type.", details={"approval_type": approval_type, "allowed": ApprovalType.values}
        )
    activity = lock_activity(tenant=tenant, activity_id=activity_id)
    if activity.status != ActivityStatus.REVIEW:  # a draft opens a round; any other status is refused
        fsm_transition(
            activity,
            entity_type="activity",
            actor=actor,
            name="submit_for_review",
            lock=False,
            update_fields=("review_round", *ACTIVITY_FIELDS),
            publish=lambda a, edge, source: publish_activity_event(
                a, "submitted", actor=actor, title=f"Activity {a} submitted for review", review_round=a.review_round
            ),
        )

    asked = set(
        Approval.objects.for_tenant(tenant)
        .filter(activity=activity, review_round=activity.review_round)
        .values_list("approval_type", flat=True)
    )
    if approval_type is not None:
        if approval_type in asked:
            raise errors.Conflict(
                f"A {approval_type} approval was already requested in review round {activity.review_round}.",
                details={"approval_type": approval_type, "review_round": activity.review_round},
            )
        wanted = [approval_type]
    else:
        wanted = [t for t in required_approval_types() if t not in asked]
    approvals = [
        Approval.objects.create(
            tenant_id=activity.tenant_id,
            activity=activity,
            review_round=activity.review_round,
            approval_type=kind,
            approver_id=approver_id,
            approver_role=approver_role,
            comments=comments,
            requested_by=actor,
        )
        for kind in wanted
    ]
    for approval in approvals:
        publish_registry_event(
            activity,
            "registry.approval.requested",
            actor=actor,
            source_object_type="approval",
            source_object_id=approval.approval_id,
            tags=("approval",),
            title=f"{approval.approval_type.title()} approval requested for {activity}",
            approval_id=str(approval.approval_id),
            approval_type=approval.approval_type,
            approver_id=approver_id,
            review_round=activity.review_round,
        )
    return activity, approvals


@service
def approval_decide(
    *, tenant, actor, activity_id, approval_id, approval_status: str, comments: str = ""
) -> tuple[Activity, Approval]:
    """Grant or reject one approval. The activity is APPROVED when every required type (and every
    other type asked for) is granted in the current round; a rejection voids the round and sends
    it back to DRAFT."""
    if approval_status not in (ApprovalStatus.APPROVED, ApprovalStatus.REJECTED):
        raise errors.ValidationError(
            "approval_status must be APPROVED or REJECTED.", details={"approval_status": approval_status}
        )
    activity = lock_activity(tenant=tenant, activity_id=activity_id)
    approval = lock_get_or_404(Approval.objects.for_tenant(tenant), "Approval", pk=approval_id, activity=activity)
    if approval.approval_status != ApprovalStatus.PENDING:
        raise errors.Conflict(
            f"This approval was already decided ({approval.approval_status}).",
            details={"approval_id": str(approval.approval_id), "approval_status": approval.approval_status},
        )
    allowed, why = can_decide(actor, approval, activity)
    if not allowed:
        raise errors.PermissionDenied(why, details={"approval_type": approval.approval_type})
    if activity.status != ActivityStatus.REVIEW or approval.review_round != activity.review_round:
        target = ActivityStatus.APPROVED if approval_status == ApprovalStatus.APPROVED else ActivityStatus.DRAFT
        raise errors.InvalidTransition(current_state=activity.status, target_state=target, entity_type="activity")

    granted = approval_status == ApprovalStatus.APPROVED
    verb = "granted" if granted else "rejected"
    fsm_transition(
        approval,
        entity_type="approval",
        actor=actor,
        name="grant" if granted else "reject",
        lock=False,
        arguments={"by": actor, "comments": comments},
        update_fields=("decision_comments", "decided_by", "decided_at"),
        publish=lambda a, edge, source: publish_registry_event(
            activity,
            f"registry.approval.{verb}",
            actor=actor,
            source_object_type="approval",
            source_object_id=a.approval_id,
            tags=("approval",),
            title=f"{a.approval_type.title()} approval {verb} for {activity}",
            approval_id=str(a.approval_id),
            approval_type=a.approval_type,
            comments=comments,
            review_round=a.review_round,
        ),
    )

    round_approvals = Approval.objects.for_tenant(tenant).filter(activity=activity, review_round=activity.review_round)
    if not granted:
        # At most one row per approval type: each is moved (and its history row written) alone.
        for other in lock_rows(round_approvals.filter(approval_status=ApprovalStatus.PENDING).exclude(pk=approval.pk)):
            fsm_transition(
                other, entity_type="approval", actor=actor, name="void", lock=False, update_fields=("decided_at",)
            )
        fsm_transition(
            activity,
            entity_type="activity",
            actor=actor,
            name="reject",
            lock=False,
            update_fields=ACTIVITY_FIELDS,
            publish=activity_event(
                "rejected",
                actor=actor,
                title=f"Activity {activity} rejected ({approval.approval_type})",
                priority="high",
                approval_type=approval.approval_type,
                comments=comments,
            ),
        )
        return activity, approval

    decided = dict(round_approvals.values_list("approval_type", "approval_status"))
    complete = all(decided.get(t) == ApprovalStatus.APPROVED for t in required_approval_types()) and all(
        status == ApprovalStatus.APPROVED for status in decided.values()
    )
    if complete:
        fsm_transition(
            activity,
            entity_type="activity",
            actor=actor,
            name="approve",
            lock=False,
            update_fields=ACTIVITY_FIELDS,
            publish=activity_event("approved", actor=actor, title=f"Activity {activity} approved"),
        )
    return activity, approval
