"""The approvers' tool: an approval queue, approve/reject with comments, lifecycle actions with
confirmation, content read-only once frozen, history with diffs.

The buttons are ``ocx.core.admin_fsm``'s: the models' transitions that declare an admin
``custom`` (label, service, form), plus the operations below that are not transitions of the
activity itself. Every button goes through ``registry.services`` with the logged-in user as the
actor, so the admin obeys exactly the rules the API does (separation of duties, roles,
transitions, immutability).
"""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.urls import reverse
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from ocx.core import errors
from ocx.core.access import Perm, has_perm
from ocx.core.admin import ReadOnlyAdminMixin, TenantScopedAdminMixin
from ocx.core.admin_fsm import FSMTransitionAdminMixin, Operation
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
from registry.rules import can_decide


def _may(perm):
    return lambda user, activity: has_perm(user, activity.tenant_id, perm)


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
        allowed=lambda user, a: (
            a.status in (ActivityStatus.DRAFT, ActivityStatus.REVIEW)
            and has_perm(user, a.tenant_id, Perm.REQUEST_APPROVAL)
        ),
    ),
    Operation(
        slug="decide",
        label="Approve / reject",
        service="registry.services.approval_decide",
        form="registry.forms.DecideForm",
        done="Decision recorded.",
        allowed=lambda user, a: (
            a.status == ActivityStatus.REVIEW and selectors.approvals_decidable(user=user, activity=a).exists()
        ),
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
    list_display = ["name", "version", "status_badge", "category", "owner", "tenant", "created_by", "updated_at"]
    list_filter = ["status", "category", "tenant", "deployments__environment"]
    search_fields = ["name", "owner", "category", "description"]
    inlines = [ApprovalInline, DeploymentInline]
    history_list_display = ["status"]

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj):
        return format_html(
            '<span class="ocx-status ocx-status-{}">{}</span>', obj.status.lower(), obj.get_status_display()
        )

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
        """What the person is acting on: the activity's status and where it is live."""
        return {
            "deployments": selectors.deployments_for(activity=obj).filter(status=DeploymentStatus.ACTIVE),
        }


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
    list_display = [
        "activity",
        "approval_type",
        "review_round",
        "approval_status",
        "requested_by",
        "requested_at",
        "decide_link",
    ]
    list_filter = [WaitingForMeFilter, "approval_type", "approval_status", "tenant"]
    list_select_related = ["activity", "requested_by"]
    search_fields = ["activity__name", "approver_id"]
    readonly_fields = [f.name for f in Approval._meta.fields]

    @admin.display(description="")
    def decide_link(self, obj):
        if obj.approval_status != ApprovalStatus.PENDING:
            return ""
        url = reverse("admin:registry_activity_action", args=[obj.activity_id, "decide"])
        return format_html('<a class="button" href="{}?approval={}">Decide</a>', url, obj.pk)

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
        "activity",
        "environment",
        "target_tenant",
        "status",
        "effective_from",
        "effective_until",
        "deployed_by",
        "deployed_at",
    ]
    list_filter = ["environment", "status", "target_tenant", "tenant"]
    list_select_related = ["activity", "target_tenant", "deployed_by"]
    search_fields = ["activity_name"]
    readonly_fields = [f.name for f in Deployment._meta.fields]

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
