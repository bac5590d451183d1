"""The approvers' tool: an approval queue, approve/reject with comments, lifecycle actions with
confirmation, content read-only once frozen, history with diffs.

The buttons are ``ocx.core.admin_fsm``'s: the models' transitions that declare an admin
``custom`` (label, service, form), plus the operations below that are not transitions of the
activity itself. Every button goes through ``registry.services`` with the logged-in user as the
actor, so the admin obeys exactly the rules the API does (separation of duties, roles,
transitions, immutability).
"""

from __future__ import annotations

import difflib

from django.contrib import admin
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.urls import reverse
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from ocx.core import errors
from ocx.core.access import Perm, has_perm
from ocx.core.admin import ReadOnlyAdminMixin, TenantScopedAdminMixin
from ocx.core.admin_fsm import FSMTransitionAdminMixin, Operation, status_badge, truncated
from registry import selectors, services
from registry.forms import ActivityForm
from registry.models import (
    CONTENT_FIELDS,
    Activity,
    ActivityConflict,
    ActivityStatus,
    Approval,
    ApprovalStatus,
    Deployment,
    DeploymentStatus,
    Execution,
)
from registry.rules import can_decide, can_suspend


def _may(perm):
    return lambda user, activity: has_perm(user, activity.tenant_id, perm)


def _may_request_approvals(user, activity):
    """What ``activity_request_approval`` (without a type, as the form calls it) would do: open a
    round on a draft, or ask a type of the round's required ones not asked for yet."""
    if not has_perm(user, activity.tenant_id, Perm.REQUEST_APPROVAL):
        return False, "Requesting approvals needs the permission to request approvals in this tenant."
    if activity.status == ActivityStatus.DRAFT:
        return True, ""
    if activity.status != ActivityStatus.REVIEW:
        return False, f"Approvals are requested for a draft or an activity in review, not {activity.status}."
    asked = set(
        selectors.approvals_for(activity=activity)
        .filter(review_round=activity.review_round)
        .values_list("approval_type", flat=True)
    )
    if not [t for t in services.required_approval_types() if t not in asked]:
        return False, f"Every required approval of review round {activity.review_round} was already requested."
    return True, ""


def _may_decide(user, activity):
    if activity.status != ActivityStatus.REVIEW:
        return False, f"Only an activity in review has approvals to decide; this one is {activity.status}."
    if selectors.approvals_decidable(user=user, activity=activity).exists():
        return True, ""
    pending = (
        selectors.approvals_for(activity=activity)
        .filter(review_round=activity.review_round, approval_status=ApprovalStatus.PENDING)
        .first()
    )
    if pending is None:
        return False, "No approval of this review round is pending."
    return False, can_decide(user, pending, activity)[1]


# What a person can do to an activity besides its own transitions (those are declared on the
# model, ``@transition(custom=…)``): ask for approvals, decide one, roll back one of its
# deployments, make a new version.
ACTIVITY_OPERATIONS = (
    Operation(
        slug="request-approval",
        label="Request approvals",
        service="registry.services.activity_request_approval",
        form="registry.forms.RequestApprovalForm",
        done="Approvals requested.",
        allowed=_may_request_approvals,
    ),
    Operation(
        slug="decide",
        label="Approve / reject",
        service="registry.services.approval_decide",
        form="registry.forms.DecideForm",
        done="Decision recorded.",
        allowed=_may_decide,
    ),
    Operation(
        slug="rollback",
        label="Roll back",
        service="registry.services.deployment_rollback",
        form="registry.forms.RollbackForm",
        done="Rolled back: the previous deployment is active again.",
        allowed=lambda user, a: (
            has_perm(user, a.tenant_id, Perm.DEPLOY_ACTIVITY)
            and selectors.deployments_rollbackable(activity=a).exists()
        ),
    ),
    Operation(
        slug="new-version",
        label="New version",
        service="registry.services.activity_new_version",
        form="registry.forms.NewVersionForm",
        done="New draft version created.",
        redirect_to_result=True,
        allowed=_may(Perm.CREATE_ACTIVITY),
    ),
)


def review_context(activity, *, approval=None) -> dict:
    """What an approver decides on: the activity's content, the diff against the version it was
    made from (if any), and the approvals of its current round with their state."""
    previous = getattr(getattr(activity, "version_record", None), "previous_activity", None)
    diff = []
    if previous is not None:
        before, after = _content_lines(previous), _content_lines(activity)
        for line in difflib.unified_diff(before, after, str(previous), str(activity), lineterm="", n=2):
            kind = "hunk" if line.startswith("@@") else {"+": "add", "-": "del"}.get(line[:1], "ctx")
            if line.startswith(("+++", "---")):
                kind = "file"
            diff.append((kind, line))
    round_approvals = selectors.approvals_for(activity=activity).filter(review_round=activity.review_round)
    return {
        "review_activity": activity,
        "review_previous": previous,
        "review_diff": diff,
        "review_approvals": list(round_approvals),
        "review_current": approval,
    }


def _content_lines(activity) -> list[str]:
    lines = []
    for field in ("owner", "authority", "category", "description"):
        lines.append(f"{field}: {getattr(activity, field)}")
    lines.append("ebcl_source:")
    lines.extend(activity.ebcl_source.splitlines())
    return lines


# --- admin classes --------------------------------------------------------------------------


class ApprovalInline(admin.TabularInline):
    model = Approval
    extra = 0
    can_delete = False
    fields = [
        "review_round",
        "approval_type",
        "approval_status",
        "approver_id",
        "requested_by",
        "decided_by",
        "decided_at",
        "decision_comments",
    ]
    readonly_fields = fields
    ordering = ["-review_round", "approval_type"]

    def has_add_permission(self, request, obj=None):
        return False


class DeploymentInline(admin.TabularInline):
    model = Deployment
    fk_name = "activity"
    extra = 0
    can_delete = False
    fields = [
        "environment",
        "target_tenant",
        "status",
        "effective_from",
        "effective_until",
        "previous_deployment",
        "deployed_by",
        "ended_at",
        "end_reason",
    ]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Activity)
class ActivityAdmin(FSMTransitionAdminMixin, TenantScopedAdminMixin, SimpleHistoryAdmin):
    form = ActivityForm
    change_form_template = "admin/registry/activity/change_form.html"
    extra_operations = ACTIVITY_OPERATIONS
    fsm_entity_type = "activity"
    list_display = ["name_column", "version", "status_badge", "category", "owner", "tenant", "updated_at"]
    list_display_links = ["name_column"]
    list_filter = ["status", "category", "tenant", "deployments__environment"]
    list_select_related = ["tenant"]
    search_fields = ["name", "owner", "category", "description"]
    inlines = [ApprovalInline, DeploymentInline]
    history_list_display = ["status"]

    @admin.display(description="name", ordering="name")
    def name_column(self, obj):
        return truncated(obj.name)

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return status_badge(obj.status, obj.get_status_display())

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.is_frozen:
            # Its content is frozen (the service and the database refuse a change): nothing to save.
            context.update(show_save=False, show_save_and_continue=False, show_save_and_add_another=False)
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)

    def get_readonly_fields(self, request, obj=None):
        base = ["activity_id", "status", "review_round", "created_by", "created_at", "updated_at"]
        if obj is None:
            return ["status"]
        if obj.is_frozen:
            return [*base, "tenant", *CONTENT_FIELDS]
        return [*base, "tenant"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["tenant", *CONTENT_FIELDS]
        return [
            "activity_id",
            "tenant",
            *CONTENT_FIELDS,
            "status",
            "review_round",
            "created_by",
            "created_at",
            "updated_at",
        ]

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_frozen:
            return False
        return super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        data = {field: form.cleaned_data[field] for field in CONTENT_FIELDS if field in form.cleaned_data}
        try:
            if change:
                saved = services.activity_update(tenant=obj.tenant_id, actor=request.user, activity_id=obj.pk, **data)
            else:
                saved = services.activity_create(tenant=form.cleaned_data["tenant"], actor=request.user, **data)
        except errors.ApplicationError as exc:
            # The form validated; a service refusal here (a race, a permission) must not be
            # reported as saved.
            raise DjangoPermissionDenied(exc.message) from exc
        obj.pk = saved.pk
        obj.__dict__.update({k: v for k, v in saved.__dict__.items() if not k.startswith("_")})

    def delete_model(self, request, obj):
        services.activity_delete(tenant=obj.tenant_id, actor=request.user, activity_id=obj.pk)

    def fsm_operation_context(self, request, obj, operation):
        """What the person is acting on: the activity's status and where it is live; to decide,
        its content, its diff and the other approvals of the round."""
        context = {"deployments": selectors.deployments_for(activity=obj).filter(status=DeploymentStatus.ACTIVE)}
        if operation.slug == "decide":
            context.update(review_context(obj))
        return context

    def fsm_refusal(self, request, obj, operation):
        refused = super().fsm_refusal(request, obj, operation)
        if refused is None and operation.slug == "suspend":
            return can_suspend(obj)[1] or None  # the rule activity_suspend applies
        return refused

    def fsm_permission_refusal(self, request, obj, operation):
        labels = {"deploy": "deploy activities", "suspend": "suspend activities", "retire": "retire activities"}
        need = labels.get(operation.slug, operation.label.lower())
        return f"{operation.label} needs the permission to {need} in tenant {obj.tenant}."


class WaitingForMeFilter(admin.SimpleListFilter):
    title = "queue"
    parameter_name = "queue"

    def lookups(self, request, model_admin):
        return [("mine", "Waiting for me"), ("pending", "All pending"), ("all", "All")]

    def choices(self, changelist):
        value = self.value() or "mine"
        for lookup, title in self.lookup_choices:
            yield {
                "selected": value == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        value = self.value() or "mine"
        if value == "all":
            return queryset
        queryset = queryset.filter(approval_status=ApprovalStatus.PENDING)
        if value == "pending":
            return queryset
        pending = queryset.select_related("activity")
        return queryset.filter(pk__in=[a.pk for a in pending if can_decide(request.user, a, a.activity)[0]])


@admin.register(Approval)
class ApprovalAdmin(FSMTransitionAdminMixin, TenantScopedAdminMixin, SimpleHistoryAdmin):
    """The approval queue: by default, what the logged-in approver can decide now; an
    approval's page approves or rejects it (``Approval.grant`` / ``reject``)."""

    fsm_entity_type = "approval"
    # Chosen for 1280 px with the sidebar open: Decide right after what is approved, long values
    # truncated (the whole value in the tooltip).
    list_display = ["activity_column", "decide_link", "type_column", "status_badge", "requested_column"]
    list_display_links = ["activity_column"]
    list_filter = [WaitingForMeFilter, "approval_type", "approval_status", "tenant"]
    list_select_related = ["activity", "activity__tenant", "requested_by"]
    search_fields = ["activity__name", "approver_id"]
    readonly_fields = [f.name for f in Approval._meta.fields]

    @admin.display(description="activity", ordering="activity__name")
    def activity_column(self, obj):
        # The round and who asked (no room for their own columns) are in the tooltip.
        return truncated(
            str(obj.activity),
            title=f"{obj.activity} — review round {obj.review_round}, requested by {obj.requested_by}",
        )

    @admin.display(description="type", ordering="approval_type")
    def type_column(self, obj):
        return obj.get_approval_type_display()

    @admin.display(description="requested", ordering="requested_at")
    def requested_column(self, obj):
        return date_format(timezone.localtime(obj.requested_at), "Y-m-d H:i T")

    @admin.display(description="status", ordering="approval_status")
    def status_badge(self, obj):
        return status_badge(obj.approval_status, obj.get_approval_status_display())

    @admin.display(description="decide")
    def decide_link(self, obj):  # drawn per request by get_list_display: it needs the user
        return ""

    def get_list_display(self, request):
        user = request.user

        @admin.display(description="decide")
        def decide_link(obj):
            # The rule the service applies (registry.rules.can_decide), so "All pending" offers
            # Decide only on the approvals this user may decide.
            if obj.approval_status != ApprovalStatus.PENDING or not can_decide(user, obj, obj.activity)[0]:
                return ""
            url = reverse("admin:registry_activity_action", args=[obj.activity_id, "decide"])
            return format_html('<a class="button ocx-decide" href="{}?approval={}">Decide</a>', url, obj.pk)

        return [decide_link if item == "decide_link" else item for item in super().get_list_display(request)]

    def fsm_operation_context(self, request, obj, operation):
        return review_context(obj.activity, approval=obj)

    def fsm_permission_refusal(self, request, obj, operation):
        allowed, why = can_decide(request.user, obj, obj.activity)
        return why or super().fsm_permission_refusal(request, obj, operation)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Deployment)
class DeploymentAdmin(FSMTransitionAdminMixin, TenantScopedAdminMixin, SimpleHistoryAdmin):
    """Deployments are written by the services only; an active one that superseded another can
    be rolled back from its page (``Deployment.roll_back``)."""

    fsm_entity_type = "deployment"
    list_display = [
        "activity_column",
        "environment",
        "target_tenant",
        "status_badge",
        "effective_from",
        "effective_until",
        "deployed_by",
        "deployed_at",
    ]
    list_display_links = ["activity_column"]
    list_filter = ["environment", "status", "target_tenant", "tenant"]
    list_select_related = ["activity", "target_tenant", "deployed_by"]
    search_fields = ["activity_name"]
    readonly_fields = [f.name for f in Deployment._meta.fields]

    @admin.display(description="activity", ordering="activity_name")
    def activity_column(self, obj):
        return truncated(str(obj.activity))

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return status_badge(obj.status, obj.get_status_display())

    def get_queryset(self, request):
        return (
            super().get_queryset(request).select_related("activity", "target_tenant", "previous_deployment__activity")
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Execution)
class ExecutionAdmin(ReadOnlyAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ["activity", "outcome", "duration_ms", "executed_at", "agent_id", "evidence_ref"]
    list_filter = ["outcome", "deployment__environment", "tenant"]
    list_select_related = ["activity"]
    readonly_fields = [f.name for f in Execution._meta.fields]
    show_full_result_count = False


@admin.register(ActivityConflict)
class ConflictAdmin(TenantScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ["activity", "conflict_type", "chosen_path", "resolved_by", "resolved_at"]
    list_filter = ["tenant"]
    readonly_fields = [f.name for f in ActivityConflict._meta.fields]

    def has_add_permission(self, request):
        return False
