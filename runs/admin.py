"""The operators' view of runs (status and work-unit filters, duration, attempt, worker, a
cancel button) and of workspaces (members and work units inline). Every change goes through
``runs.services`` as the logged-in user, so the admin obeys the rules the API does; rows are
read-only otherwise."""

from __future__ import annotations

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from ocx.core.access import Perm, has_perm
from ocx.core.admin import SystemRecordAdminMixin, TenantScopedAdminMixin
from ocx.core.admin_fsm import FSMTransitionAdminMixin, Operation
from registry import selectors as registry_selectors
from runs.models import MANAGING_ROLES, OPEN_STATUSES, Run, Workspace, WorkspaceMember, WorkspaceWorkUnit
from runs.services.common import may_cancel


def _cancellable(user, run) -> bool:
    return run.status in OPEN_STATUSES and not run.cancel_requested and may_cancel(user, run)


RUN_OPERATIONS = (
    Operation(
        slug="cancel",
        label="Cancel run",
        service="runs.services.run_cancel",
        form="runs.forms.ReasonForm",
        id_kwarg="run_id",
        done="Cancelled (a running run ends cancelled when its executor acknowledges or its lease expires).",
        allowed=_cancellable,
    ),
)


class WorkUnitFilter(admin.SimpleListFilter):
    title = "work unit"
    parameter_name = "work_unit"

    def lookups(self, request, model_admin):
        # The activity names of the user's tenants: a short list (a DISTINCT over the runs would
        # read every run).
        from ocx.core.models import Membership, Tenant

        if request.user.is_superuser:
            tenant_ids = Tenant.objects.values_list("pk", flat=True)
        else:
            tenant_ids = Membership.objects.filter(user=request.user).values_list("tenant_id", flat=True)
        names: set[str] = set()
        for tenant_id in list(tenant_ids):
            names.update(registry_selectors.activity_list(tenant=tenant_id).values_list("name", flat=True))
        return [(n, n) for n in sorted(names)]

    def queryset(self, request, queryset):
        return queryset.filter(work_unit_id=self.value()) if self.value() else queryset


@admin.register(Run)
class RunAdmin(FSMTransitionAdminMixin, TenantScopedAdminMixin, SimpleHistoryAdmin):
    extra_operations = RUN_OPERATIONS
    fsm_entity_type = "run"
    list_display = ["short_id", "work_unit_name", "activity_version", "status", "user_name", "execution", "attempt",
                    "worker_id", "duration_ms", "created_at"]  # fmt: skip
    list_filter = ["status", WorkUnitFilter, "execution", "environment", "cancel_requested"]
    search_fields = ["id", "work_unit_id", "user_name", "worker_id", "idempotency_key"]
    date_hierarchy = "created_at"
    list_select_related = ["tenant"]
    ordering = ["-created_at", "-id"]
    fieldsets = [
        (None, {"fields": ["id", "tenant", "status", "cancel_requested", "work_unit_id", "work_unit_type",
                           "work_unit_name", "activity", "activity_version", "deployment", "environment", "workspace",
                           "user", "user_name"]}),
        ("Outcome", {"fields": ["input", "output", "error", "error_type", "started_at", "completed_at", "duration_ms",
                                "execution_id"]}),
        ("Execution", {"fields": ["execution", "priority", "idempotency_key", "attempt", "max_attempts", "available_at",
                                  "schedule_to_start_timeout", "start_to_close_timeout", "deadline", "worker_id",
                                  "lease_token", "lease_expires_at", "lease_seconds", "heartbeat_at",
                                  "heartbeat_details", "celery_task_id", "workflow_instance_ref", "created_at",
                                  "updated_at"]}),
    ]  # fmt: skip

    @admin.display(description="run", ordering="id")
    def short_id(self, run):
        return str(run.pk)[:8]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Run._meta.concrete_fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class _ReadOnlyInline(admin.TabularInline):
    """A read-only list of a workspace's rows: the services add, change and remove them."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class MemberInline(_ReadOnlyInline):
    model = WorkspaceMember
    fields = ["user", "role", "department", "constraints", "invited_by", "created_at"]
    readonly_fields = fields


class WorkUnitInline(_ReadOnlyInline):
    model = WorkspaceWorkUnit
    fields = ["work_unit_id", "work_unit_type", "delegation_id", "constraints", "added_by", "department", "created_at"]
    readonly_fields = fields


def _manages(user, workspace) -> bool:
    if workspace.is_archived:
        return False
    if has_perm(user, workspace.tenant_id, Perm.MANAGE_WORKSPACE):
        return True
    return workspace.members.filter(user=user, role__in=MANAGING_ROLES).exists()


WORKSPACE_OPERATIONS = (
    Operation(
        slug="add-member",
        label="Add member",
        service="runs.services.member_add",
        form="runs.forms.MemberAddForm",
        id_kwarg="workspace_id",
        done="Member added.",
        allowed=_manages,
    ),
    Operation(
        slug="add-work-unit",
        label="Add work unit",
        service="runs.services.work_unit_add",
        form="runs.forms.WorkUnitAddForm",
        id_kwarg="workspace_id",
        done="Work unit delegated to the workspace.",
        allowed=_manages,
    ),
    Operation(
        slug="archive",
        label="Archive",
        service="runs.services.workspace_archive",
        form="runs.forms.ReasonForm",
        id_kwarg="workspace_id",
        done="Archived.",
        allowed=_manages,
    ),
)


@admin.register(Workspace)
class WorkspaceAdmin(FSMTransitionAdminMixin, TenantScopedAdminMixin, SimpleHistoryAdmin):
    extra_operations = WORKSPACE_OPERATIONS
    list_display = ["name", "tenant", "archived_at", "created_by", "created_at"]
    list_filter = ["tenant", ("archived_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "description"]
    inlines = [MemberInline, WorkUnitInline]
    fields = ["name", "description", "tenant", "archived_at", "created_by", "created_at", "updated_at"]
    readonly_fields = fields

    def fsm_operations(self, obj):
        return list(self.extra_operations)  # a workspace has no state machine of its own

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(WorkspaceMember)
class WorkspaceMemberAdmin(SystemRecordAdminMixin, TenantScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ["user", "workspace", "role", "department", "created_at"]
    list_filter = ["role"]
    search_fields = ["user__username", "workspace__name", "department"]
    list_select_related = ["user", "workspace"]


@admin.register(WorkspaceWorkUnit)
class WorkspaceWorkUnitAdmin(SystemRecordAdminMixin, TenantScopedAdminMixin, SimpleHistoryAdmin):
    list_display = ["work_unit_id", "workspace", "work_unit_type", "delegation_id", "added_by", "created_at"]
    list_filter = ["work_unit_type"]
    search_fields = ["work_unit_id", "workspace__name", "delegation_id"]
    list_select_related = ["workspace", "added_by"]
