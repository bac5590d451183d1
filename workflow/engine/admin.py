"""Engine admin: templates with their phases, activities and rendered dependency graph (publish
and new-version buttons through the services), instances with every activity's state and the
operator buttons (retry from failure, cancel), incidents.

Not registered by default yet: ``tests/ocx/test_admin_tenancy.py`` requires a tenant-A row of
every registered tenant model in its ``_populate()`` (outside this package), so
``register_engine_admin()`` is called from ``workflow/admin.py`` once those rows are added.

Template content is read-only here: drafts are created and changed through the one JSON form
(API, ``load_workflow_template``, new-version with a body), which the engine validates as a
whole (handlers, cycles, phases, conditions, retry policies) before anything is written.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from ocx.core.admin import SystemRecordAdminMixin, TenantScopedAdminMixin
from ocx.core.admin_fsm import FSMTransitionAdminMixin, Operation
from workflow.engine.models import (
    ActivityInstance,
    ActivityTemplate,
    Incident,
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


NEW_VERSION = Operation(
    slug="new-version", label="New draft version", service="workflow.engine.services.template_new_version",
    id_kwarg="template_id", redirect_to_result=True, allowed=lambda user, obj: obj.status == TemplateStatus.PUBLISHED,
)  # fmt: skip


class WorkflowTemplateAdmin(FSMTransitionAdminMixin, TenantScopedAdminMixin, SimpleHistoryAdmin):
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

    def has_add_permission(self, request):
        return False

    @admin.display(description="dependency graph (effective: explicit, sequential order, phase barriers)")
    def dependency_graph(self, obj):
        acts = {a.pk: a for a in obj.activities.select_related("phase").order_by("phase__order", "position")}
        rows = [
            (a.phase.name, a.key, a.handler_name, ", ".join(acts[d].key for d in a.dependents if d in acts) or "—")
            for a in acts.values()
        ]
        return format_html(
            "<table><tr><th>phase</th><th>activity</th><th>handler</th><th>then runs</th></tr>{}</table>",
            format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows),
        )


class ActivityInstanceInline(_ReadOnlyInline):
    model = ActivityInstance
    fk_name = "workflow"
    fields = [
        "instance_id",
        "state",
        "execution_mode",
        "retry_count",
        "last_error_type",
        "last_error",
        "task_id",
        "started_at",
        "completed_at",
    ]
    readonly_fields = fields


class WorkflowInstanceAdmin(FSMTransitionAdminMixin, TenantScopedAdminMixin, SimpleHistoryAdmin):
    fsm_entity_type = "WorkflowInstance"
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
        "open_incidents",
    ]
    exclude = ["tenant", "start_keys", "completion_seq"]
    inlines = [ActivityInstanceInline]

    def has_add_permission(self, request):
        return False

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
