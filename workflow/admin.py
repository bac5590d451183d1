"""Workflow admin: tasks and action plans with transition buttons (through the services), SLA
status columns and filters, triggers with predicate validation, SLA configs, history."""

from __future__ import annotations

from django.contrib import admin
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from ocx.core.admin import SystemRecordAdminMixin, TenantScopedAdminMixin
from ocx.core.admin_fsm import FSMTransitionAdminMixin
from workflow import services
from workflow.engine.admin import register_engine_admin
from workflow.models import (
    ActionPlan,
    AutomationTrigger,
    SLAConfig,
    SLARecord,
    SLAStatus,
    StateTransition,
    Task,
    TriggerExecution,
    WebhookDelivery,
)


class SLAFilter(admin.SimpleListFilter):
    title = "SLA"
    parameter_name = "sla"

    def lookups(self, request, model_admin):
        return [
            ("breached", "Breached"),
            ("at_risk", "At risk"),
            ("running", "Running"),
            ("paused", "Paused"),
            ("met", "Met"),
        ]

    def queryset(self, request, queryset):
        prefix = "" if queryset.model is SLARecord else "sla__"
        value = self.value()
        if value == "at_risk":
            return queryset.filter(
                **{
                    f"{prefix}status__in": [SLAStatus.RUNNING, SLAStatus.PAUSED],
                    f"{prefix}at_risk_notified_at__isnull": False,
                }
            )
        if value:
            return queryset.filter(**{f"{prefix}status": value})
        return queryset


@admin.register(Task)
class TaskAdmin(FSMTransitionAdminMixin, TenantScopedAdminMixin, SimpleHistoryAdmin):
    # Buttons from the transitions' ``custom`` (workflow.models.TASK_ADMIN): task_transition.
    fsm_label_shows_target = True
    fsm_entity_type = "Task"
    list_display = [
        "id",
        "title",
        "tenant",
        "state",
        "task_type",
        "priority",
        "assigned_to",
        "sla_status",
        "sla_due",
        "created_at",
    ]
    list_filter = ["state", SLAFilter, "task_type", "priority", "tenant"]
    search_fields = ["title", "description"]
    list_select_related = ["tenant", "assigned_to", "sla"]
    readonly_fields = [
        "state",
        "created_by",
        "created_at",
        "updated_at",
        "started_at",
        "completed_at",
        "sla_status",
        "sla_due",
    ]
    raw_id_fields = ["action_plan"]
    show_full_result_count = False

    @admin.display(description="SLA")
    def sla_status(self, obj):
        try:
            record = obj.sla
        except SLARecord.DoesNotExist:
            return "—"
        return f"{record.get_status_display()}{' (at risk)' if record.at_risk else ''}"

    @admin.display(description="SLA due")
    def sla_due(self, obj):
        try:
            return obj.sla.due_at
        except SLARecord.DoesNotExist:
            return None

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        # Creation goes through the service (SLA clock, event); the admin then shows that row.
        created = services.task_create(
            tenant=obj.tenant,
            actor=request.user,
            title=obj.title,
            description=obj.description,
            task_type=obj.task_type,
            service_area=obj.service_area,
            priority=obj.priority,
            assigned_to=obj.assigned_to,
            action_plan_id=obj.action_plan_id,
            due_date=obj.due_date,
            metadata=obj.metadata,
        )
        obj.pk = created.pk
        obj._state.adding = False


@admin.register(ActionPlan)
class ActionPlanAdmin(FSMTransitionAdminMixin, TenantScopedAdminMixin, SimpleHistoryAdmin):
    fsm_label_shows_target = True
    fsm_entity_type = "ActionPlan"
    list_display = ["id", "title", "tenant", "state", "created_by", "created_at", "activated_at", "archived_at"]
    list_filter = ["state", "tenant"]
    search_fields = ["title", "description"]
    list_select_related = ["tenant", "created_by"]
    readonly_fields = ["state", "created_by", "created_at", "updated_at", "activated_at", "archived_at"]

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        created = services.action_plan_create(
            tenant=obj.tenant, actor=request.user, title=obj.title, description=obj.description, goals=obj.goals,
            metadata=obj.metadata,
        )  # fmt: skip
        obj.pk = created.pk
        obj._state.adding = False


class GlobalOrTenantAdminMixin(TenantScopedAdminMixin):
    """Configuration rows may be global (tenant NULL): only superusers see and edit those (the
    base scoping keeps rows of the user's tenants, and NULL is none of them: the list, the
    object pages, the history and the filters alike)."""

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if not request.user.is_superuser and "tenant" in form.base_fields:
            # A tenant's staff must not create a global row that would apply to every tenant.
            form.base_fields["tenant"].required = True
            form.base_fields["tenant"].empty_label = None
        return form


@admin.register(AutomationTrigger)
class AutomationTriggerAdmin(GlobalOrTenantAdminMixin, SimpleHistoryAdmin):
    """The model form runs ``clean()``: a predicate the sandbox refuses cannot be saved."""

    list_display = [
        "name",
        "event_type",
        "tenant",
        "is_active",
        "builtin",
        "position",
        "failure_count",
        "last_failed_at",
    ]
    list_filter = ["is_active", "builtin", "event_type"]
    search_fields = ["name", "event_type", "predicate"]
    readonly_fields = ["key", "builtin", "failure_count", "last_error", "last_failed_at", "created_at", "updated_at"]

    def has_delete_permission(self, request, obj=None):
        return not (obj is not None and obj.builtin) and super().has_delete_permission(request, obj)


@admin.register(TriggerExecution)
class TriggerExecutionAdmin(SystemRecordAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ["id", "trigger", "event_type", "event_id", "status", "attempts", "updated_at"]
    list_filter = ["status", "event_type"]
    search_fields = ["error"]
    list_select_related = ["trigger"]


@admin.register(SLAConfig)
class SLAConfigAdmin(GlobalOrTenantAdminMixin, SimpleHistoryAdmin):
    list_display = ["task_type", "service_area", "target_minutes", "at_risk_fraction", "active", "tenant"]
    list_filter = ["active", "task_type"]


@admin.register(SLARecord)
class SLARecordAdmin(SystemRecordAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = [
        "id",
        "task",
        "status",
        "target_minutes",
        "started_at",
        "due_at",
        "at_risk_notified_at",
        "breached_at",
        "overdue",
    ]
    list_filter = [SLAFilter, "tenant"]
    list_select_related = ["task"]
    raw_id_fields = ["task"]
    show_full_result_count = False

    @admin.display(boolean=True)
    def overdue(self, obj):
        return obj.status == SLAStatus.RUNNING and obj.due_at < timezone.now()


@admin.register(StateTransition)
class StateTransitionAdmin(SystemRecordAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ["id", "entity_type", "entity_id", "from_state", "to_state", "actor", "created_at"]
    list_filter = ["entity_type", "to_state"]
    list_select_related = ["actor"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(SystemRecordAdminMixin, TenantScopedAdminMixin, admin.ModelAdmin):
    list_display = ["id", "url", "status", "attempts", "next_attempt_at", "last_status_code", "delivered_at"]
    list_filter = ["status"]
    exclude = ["secret"]


register_engine_admin()
