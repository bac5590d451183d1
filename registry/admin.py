"""The approvers' tool: an approval queue, approve/reject with comments, lifecycle actions with
confirmation, content read-only once frozen, history with diffs.

Every button goes through ``registry.services`` with the logged-in user as the actor, so the admin
obeys exactly the rules the API does (separation of duties, roles, transitions, immutability).
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django_fsm import can_proceed
from simple_history.admin import SimpleHistoryAdmin

from ocx.core import errors
from ocx.core.access import Perm, has_perm
from ocx.core.admin import ReadOnlyAdminMixin, TenantScopedAdminMixin
from registry import services
from registry.models import (
    CONTENT_FIELDS,
    DEPLOYABLE_STATUSES,
    Activity,
    ActivityConflict,
    ActivityStatus,
    Approval,
    ApprovalStatus,
    Deployment,
    DeploymentStatus,
    Environment,
    Execution,
    VersionType,
)
from registry.services.activities import can_decide

# --- action forms ---------------------------------------------------------------------------


class ReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class RequiredReasonForm(forms.Form):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))


class DecideForm(forms.Form):
    approval = forms.ModelChoiceField(queryset=Approval.unscoped.none(), empty_label=None)
    decision = forms.ChoiceField(
        choices=[(ApprovalStatus.APPROVED, "Approve"), (ApprovalStatus.REJECTED, "Reject")], widget=forms.RadioSelect
    )
    comments = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)

    def __init__(self, *args, approvals=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["approval"].queryset = approvals


class DeployForm(forms.Form):
    environment = forms.ChoiceField(choices=Environment.choices)
    target_tenant = forms.ModelChoiceField(queryset=None, empty_label=None, label="Tenant")
    deployment_notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    effective_from = forms.DateTimeField(required=False, help_text="Leave empty to deploy now.")
    effective_until = forms.DateTimeField(required=False)

    def __init__(self, *args, tenants=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target_tenant"].queryset = tenants


class RollbackForm(forms.Form):
    deployment = forms.ModelChoiceField(queryset=Deployment.unscoped.none(), empty_label=None)
    rollback_reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, deployments=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["deployment"].queryset = deployments


class NewVersionForm(forms.Form):
    version_type = forms.ChoiceField(choices=VersionType.choices)
    change_summary = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}))
    breaking_changes = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}), required=False, help_text="One per line."
    )


# --- actions: (label, form, allowed(user, activity), run(user, activity, data)) -------------


def _pending_for(user, activity):
    pending = Approval.unscoped.filter(
        activity=activity, review_round=activity.review_round, approval_status=ApprovalStatus.PENDING
    )
    return Approval.unscoped.filter(pk__in=[a.pk for a in pending if can_decide(user, a, activity)[0]])


def _rollbackable(activity):
    return Deployment.unscoped.filter(
        activity=activity, status=DeploymentStatus.ACTIVE, previous_deployment__isnull=False
    )


def _may(perm):
    return lambda user, activity: has_perm(user, activity.tenant_id, perm)


ACTIONS = {
    "request-approval": {
        "label": "Request approvals",
        "form": lambda user, activity, data: ReasonForm(data),
        "allowed": lambda user, a: (
            a.status in (ActivityStatus.DRAFT, ActivityStatus.REVIEW)
            and has_perm(user, a.tenant_id, Perm.REQUEST_APPROVAL)
        ),
        "run": lambda user, a, d: services.activity_request_approval(
            tenant=a.tenant_id, actor=user, activity_id=a.pk, comments=d["reason"]
        ),
        "done": "Approvals requested.",
    },
    "decide": {
        "label": "Approve / reject",
        "form": lambda user, activity, data: DecideForm(data, approvals=_pending_for(user, activity)),
        "allowed": lambda user, a: a.status == ActivityStatus.REVIEW and _pending_for(user, a).exists(),
        "run": lambda user, a, d: services.approval_decide(
            tenant=a.tenant_id,
            actor=user,
            activity_id=a.pk,
            approval_id=d["approval"].pk,
            approval_status=d["decision"],
            comments=d["comments"],
        ),
        "done": "Decision recorded.",
    },
    "deploy": {
        "label": "Deploy",
        "form": lambda user, activity, data: DeployForm(data, tenants=_deploy_tenants(user)),
        "allowed": lambda user, a: (
            a.status in DEPLOYABLE_STATUSES and has_perm(user, a.tenant_id, Perm.DEPLOY_ACTIVITY)
        ),
        "run": lambda user, a, d: services.activity_deploy(
            tenant=a.tenant_id,
            actor=user,
            activity_id=a.pk,
            environment=d["environment"],
            target_tenant=d["target_tenant"].slug,
            deployment_notes=d["deployment_notes"],
            effective_from=d["effective_from"],
            effective_until=d["effective_until"],
        ),
        "done": "Deployed.",
    },
    "rollback": {
        "label": "Roll back",
        "form": lambda user, activity, data: RollbackForm(data, deployments=_rollbackable(activity)),
        "allowed": lambda user, a: _rollbackable(a).exists() and has_perm(user, a.tenant_id, Perm.DEPLOY_ACTIVITY),
        "run": lambda user, a, d: services.deployment_rollback(
            tenant=a.tenant_id,
            actor=user,
            activity_id=a.pk,
            deployment_id=d["deployment"].pk,
            rollback_reason=d["rollback_reason"],
        ),
        "done": "Rolled back: the previous deployment is active again.",
    },
    "suspend": {
        "label": "Suspend (emergency)",
        "form": lambda user, activity, data: RequiredReasonForm(data),
        "allowed": lambda user, a: can_proceed(a.suspend) and has_perm(user, a.tenant_id, Perm.SUSPEND_ACTIVITY),
        "run": lambda user, a, d: services.activity_suspend(
            tenant=a.tenant_id, actor=user, activity_id=a.pk, reason=d["reason"]
        ),
        "done": "Suspended: every active deployment has ended.",
    },
    "reactivate": {
        "label": "Reactivate",
        "form": lambda user, activity, data: ReasonForm(data),
        "allowed": lambda user, a: can_proceed(a.reactivate) and has_perm(user, a.tenant_id, Perm.SUSPEND_ACTIVITY),
        "run": lambda user, a, d: services.activity_reactivate(
            tenant=a.tenant_id, actor=user, activity_id=a.pk, reason=d["reason"]
        ),
        "done": "Reactivated: the activity is approved and can be deployed again.",
    },
    "retire": {
        "label": "Retire",
        "form": lambda user, activity, data: ReasonForm(data),
        "allowed": lambda user, a: can_proceed(a.retire) and has_perm(user, a.tenant_id, Perm.SUSPEND_ACTIVITY),
        "run": lambda user, a, d: services.activity_retire(
            tenant=a.tenant_id, actor=user, activity_id=a.pk, reason=d["reason"]
        ),
        "done": "Retired.",
    },
    "new-version": {
        "label": "New version",
        "form": lambda user, activity, data: NewVersionForm(data),
        "allowed": lambda user, a: has_perm(user, a.tenant_id, Perm.CREATE_ACTIVITY),
        "run": lambda user, a, d: services.activity_new_version(
            tenant=a.tenant_id,
            actor=user,
            activity_id=a.pk,
            version_type=d["version_type"],
            change_summary=d["change_summary"],
            breaking_changes=[line.strip() for line in d["breaking_changes"].splitlines() if line.strip()],
        ),
        "done": "New draft version created.",
    },
}


def _deploy_tenants(user):
    from ocx.core.models import Tenant

    tenants = Tenant.objects.all() if user.is_superuser else Tenant.objects.filter(memberships__user=user)
    return tenants.filter(pk__in=[t.pk for t in tenants if has_perm(user, t, Perm.DEPLOY_ACTIVITY)])


def allowed_actions(user, activity) -> list[tuple[str, str]]:
    return [(key, spec["label"]) for key, spec in ACTIONS.items() if spec["allowed"](user, activity)]


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


class ActivityForm(forms.ModelForm):
    class Meta:
        model = Activity
        fields = ["tenant", *CONTENT_FIELDS]

    def clean(self):
        data = super().clean()
        if self.instance.pk and self.instance.is_frozen:
            raise forms.ValidationError(
                f"This activity is {self.instance.status}: its content is frozen. Create a new version."
            )
        return data


@admin.register(Activity)
class ActivityAdmin(TenantScopedAdminMixin, SimpleHistoryAdmin):
    form = ActivityForm
    change_form_template = "admin/registry/activity/change_form.html"
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

    def get_urls(self):
        urls = super().get_urls()
        return [
            path(
                "<path:object_id>/action/<slug:action>/",
                self.admin_site.admin_view(self.action_view),
                name="registry_activity_action",
            ),
            *urls,
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        obj = self.get_object(request, object_id)
        if obj is not None:
            extra_context["ocx_actions"] = [
                (label, reverse("admin:registry_activity_action", args=[obj.pk, key]))
                for key, label in allowed_actions(request.user, obj)
            ]
        return super().change_view(request, object_id, form_url, extra_context)

    def action_view(self, request, object_id, action):
        activity = get_object_or_404(self.get_queryset(request), pk=object_id)
        spec = ACTIONS.get(action)
        if spec is None or not spec["allowed"](request.user, activity):
            raise DjangoPermissionDenied("This action is not available to you for this activity.")
        form = spec["form"](request.user, activity, request.POST if request.method == "POST" else None)
        if request.method != "POST":
            form.initial.update({key: value for key, value in request.GET.items() if key in form.fields})
        change_url = reverse("admin:registry_activity_change", args=[activity.pk])
        if request.method == "POST" and form.is_valid():
            try:
                result = spec["run"](request.user, activity, form.cleaned_data)
            except errors.ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)
            else:
                self.message_user(request, spec["done"], messages.SUCCESS)
                if action == "new-version":
                    return HttpResponseRedirect(reverse("admin:registry_activity_change", args=[result.pk]))
                return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": activity,
            "title": f"{spec['label']}: {activity}",
            "form": form,
            "action_label": spec["label"],
            "change_url": change_url,
            "deployments": activity.deployments.filter(status=DeploymentStatus.ACTIVE).select_related("target_tenant"),
        }
        return TemplateResponse(request, "admin/registry/activity/action.html", context)


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
class ApprovalAdmin(TenantScopedAdminMixin, SimpleHistoryAdmin):
    """The approval queue: by default, what the logged-in approver can decide now."""

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
class DeploymentAdmin(TenantScopedAdminMixin, SimpleHistoryAdmin):
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
