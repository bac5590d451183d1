"""Engine admin: templates with their phases, activities and rendered dependency graph (publish
and new-version buttons through the services), instances with every activity's state and the
operator buttons (retry from failure, cancel), incidents.

Registered from ``workflow/admin.py`` (``register_engine_admin()``); the dependency graph and
the instance's progress are server-side HTML/SVG (``workflow.engine.graph``) styled by the static
``ocx/engine.css``: no script, nothing inline for the Content-Security-Policy to refuse.

Template content is read-only here: drafts are created and changed through the one JSON form
(API, ``load_workflow_template``, new-version with a body), which the engine validates as a
whole (handlers, cycles, phases, conditions, retry policies) before anything is written.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from ocx.core.access import Perm, has_perm
from ocx.core.admin import SystemRecordAdminMixin, TenantScopedAdminMixin
from ocx.core.admin_fsm import FSMTransitionAdminMixin, Operation
from workflow.engine import graph
from workflow.engine.models import (
    ActivityInstance,
    ActivityState,
    ActivityTemplate,
    Incident,
    InstanceState,
    PhaseTemplate,
    TemplateStatus,
    WorkflowInstance,
    WorkflowTemplate,
)


class _ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class PhaseInline(_ReadOnlyInline):
    model = PhaseTemplate
    fields = ["order", "key", "name", "execution_mode", "fan_out_over", "max_concurrency"]
    readonly_fields = fields


class ActivityTemplateInline(_ReadOnlyInline):
    model = ActivityTemplate
    fields = [
        "phase",
        "position",
        "key",
        "name",
        "handler_name",
        "manual",
        "execution_mode",
        "timeout_seconds",
        "retry_policy",
        "conditional_expression",
        "compensation_handler",
    ]
    readonly_fields = fields


class ReasonForm(forms.Form):
    reason = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, data=None, *, obj=None, user=None, **kwargs):
        super().__init__(data, **kwargs)


class SkipForm(forms.Form):
    """Skip one failed activity (or fan-out branch) of the instance, with a reason."""

    activity_id = forms.TypedChoiceField(coerce=int, label="Failed activity")
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), help_text="Recorded in the audit trail.")

    def __init__(self, data=None, *, obj=None, user=None, **kwargs):
        super().__init__(data, **kwargs)
        self.fields["activity_id"].choices = [
            (a.pk, f"{a.instance_id} — {a.last_error_type}: {a.last_error[:80]}") for a in skippable(obj)
        ]


def skippable(inst) -> list[ActivityInstance]:
    """Failed activities an operator may skip (branches, not the fan-out that holds them)."""
    if inst is None:
        return []
    failed = ActivityInstance.objects.for_tenant(inst.tenant_id).filter(workflow=inst, state=ActivityState.FAILED)
    return [
        a
        for a in failed.select_related("activity_template__phase").order_by("id")
        if not (a.parent_activity_id is None and a.activity_template.fans_out)
    ]


def _operator(user, obj) -> bool:
    # The API's rule for operator actions (retry, skip, cancel): tenant admins.
    return has_perm(user, obj.tenant_id, Perm.ACTIVATE_ACTION_PLAN)


NEW_VERSION = Operation(
    slug="new-version", label="New draft version", service="workflow.engine.services.template_new_version",
    id_kwarg="template_id", redirect_to_result=True,
    allowed=lambda user, obj: obj.status == TemplateStatus.PUBLISHED and _operator(user, obj),
)  # fmt: skip
SKIP_ACTIVITY = Operation(
    slug="skip-activity", label="Skip a failed activity", service="workflow.engine.services.activity_skip",
    id_kwarg="instance_id", form=SkipForm,
    allowed=lambda user, obj: obj.state == InstanceState.FAILED and _operator(user, obj) and bool(skippable(obj)),
)  # fmt: skip


class EngineMedia:
    css = {"all": ["ocx/engine.css"]}


class OperatorOnlyMixin:
    """Every engine button is a tenant admin's (the API's rule), whatever model permissions the
    staff user holds."""

    operator_refusal = "Only the tenant's admins operate workflow templates and instances."

    def fsm_allowed(self, request, obj, operation) -> bool:
        return _operator(request.user, obj) and super().fsm_allowed(request, obj, operation)

    def fsm_refusal(self, request, obj, operation):
        if not _operator(request.user, obj):
            return self.operator_refusal
        return super().fsm_refusal(request, obj, operation)


class WorkflowTemplateAdmin(OperatorOnlyMixin, FSMTransitionAdminMixin, TenantScopedAdminMixin, SimpleHistoryAdmin):
    extra_operations = (NEW_VERSION,)
    fsm_entity_type = "WorkflowTemplate"
    list_display = ["name", "version", "status", "tenant", "created_at", "published_at"]
    list_filter = ["status", "tenant"]
    search_fields = ["name", "description"]
    readonly_fields = [
        "name",
        "version",
        "status",
        "description",
        "compensate_on_failure",
        "default_context",
        "created_by",
        "created_at",
        "published_at",
        "dependency_graph",
    ]
    exclude = ["tenant"]
    inlines = [PhaseInline, ActivityTemplateInline]
    Media = EngineMedia

    def has_add_permission(self, request):
        return False

    @admin.display(description="dependency graph")
    def dependency_graph(self, obj):
        return graph.render_svg(obj)


class WorkflowInstanceAdmin(OperatorOnlyMixin, FSMTransitionAdminMixin, TenantScopedAdminMixin, SimpleHistoryAdmin):
    """Every phase and activity with its state; the operator's buttons (retry from failure,
    skip a failed activity with a reason, cancel) each call the engine's service."""

    fsm_entity_type = "WorkflowInstance"
    extra_operations = (SKIP_ACTIVITY,)
    Media = EngineMedia
    list_display = ["id", "template", "state", "tenant", "remaining", "created_at", "finished_at"]
    list_filter = ["state", "tenant"]
    readonly_fields = [
        "template",
        "state",
        "remaining",
        "error",
        "context",
        "started_by",
        "created_at",
        "started_at",
        "finished_at",
        "run_id",
        "open_incidents",
        "progress",
    ]
    fieldsets = [
        (None, {"fields": ["template", "state", "remaining", "error", "run_id", "open_incidents"]}),
        ("Phases and activities", {"fields": ["progress"]}),
        ("Context and times", {"fields": ["context", "started_by", "created_at", "started_at", "finished_at"]}),
    ]

    def has_add_permission(self, request):
        return False

    @admin.display(description="phases and activities")
    def progress(self, obj):
        return graph.render_progress(obj)

    @admin.display(description="open incidents")
    def open_incidents(self, obj):
        rows = [
            (i.activity.instance_id, i.error_type, i.message[:200], i.attempts)
            for i in obj.incidents.filter(resolved_at__isnull=True).select_related("activity")
        ]
        if not rows:
            return "—"
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}: {} — {} ({} attempts)</li>", rows))


class IncidentAdmin(SystemRecordAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ["id", "workflow", "activity", "error_type", "attempts", "created_at", "resolved_at", "resolution"]
    list_filter = ["error_type", "resolution", "tenant"]
    search_fields = ["message"]


def register_engine_admin(site=admin.site) -> None:
    """Register the engine's admin pages on ``site``."""
    site.register(WorkflowTemplate, WorkflowTemplateAdmin)
    site.register(WorkflowInstance, WorkflowInstanceAdmin)
    site.register(Incident, IncidentAdmin)
