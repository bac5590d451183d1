"""Workspaces: CRUD and archive, members with roles and constraints, delegated work units, the
last-owner rule, and running work units in a workspace."""

import pytest

from activity_feed.models import ActivityEvent
from ocx.core import errors
from ocx.core.access import Role
from runs import services
from runs.models import WorkspaceMember
from tests.factories import member
from tests.runs.factories import RunFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def workspace(world):
    return WorkspaceFactory(tenant=world.tenant, actor=world.admin, name="Procurement")


def add(world, workspace, user, role="member", **kwargs):
    return services.member_add(tenant=world.tenant, actor=world.admin, workspace_id=workspace.pk, user_id=user.pk,
                               role=role, **kwargs)  # fmt: skip


def test_the_creator_is_the_first_owner_and_each_write_is_an_event(world, workspace, runner, vendor_check):
    add(world, workspace, runner, department="Finance")
    services.work_unit_add(
        tenant=world.tenant, actor=world.admin, workspace_id=workspace.pk, work_unit_id="Vendor_Check"
    )
    services.workspace_update(tenant=world.tenant, actor=world.admin, workspace_id=workspace.pk, description="Buying")

    owner = WorkspaceMember.objects.for_tenant(world.tenant).get(workspace=workspace, user=world.admin)
    assert owner.role == "owner"
    types = list(ActivityEvent.objects.for_tenant(world.tenant).filter(entity_type="workspace").order_by("id")
                 .values_list("type", flat=True))  # fmt: skip
    assert types == ["runs.workspace.created", "runs.workspace.member_added", "runs.workspace.work_unit_added",
                     "runs.workspace.updated"]  # fmt: skip


def test_creating_a_workspace_needs_manage_workspace(world, runner):
    with pytest.raises(errors.PermissionDenied):
        WorkspaceFactory(tenant=world.tenant, actor=runner)


def test_live_workspace_names_are_unique_per_tenant(world, workspace):
    with pytest.raises(errors.Conflict):
        WorkspaceFactory(tenant=world.tenant, actor=world.admin, name="Procurement")
    services.workspace_archive(tenant=world.tenant, actor=world.admin, workspace_id=workspace.pk)
    assert WorkspaceFactory(tenant=world.tenant, actor=world.admin, name="Procurement").pk != workspace.pk


def test_a_user_of_another_tenant_cannot_be_added(world, workspace, other_runner):
    with pytest.raises(errors.NotFound, match="User not found in this tenant"):
        add(world, workspace, other_runner)


def test_members_may_be_added_by_username(world, workspace, runner):
    added = services.member_add(
        tenant=world.tenant, actor=world.admin, workspace_id=workspace.pk, user_id="acme-member"
    )
    assert added.user_id == runner.pk and added.invited_by_id == world.admin.pk and added.role == "member"


def test_adding_a_member_twice_is_a_conflict(world, workspace, runner):
    add(world, workspace, runner)
    with pytest.raises(errors.Conflict):
        add(world, workspace, runner)


def test_the_last_owner_can_be_neither_removed_nor_demoted(world, workspace, runner):
    with pytest.raises(errors.Conflict, match="last owner"):
        services.member_remove(
            tenant=world.tenant, actor=world.admin, workspace_id=workspace.pk, user_id=world.admin.pk
        )
    with pytest.raises(errors.Conflict, match="last owner"):
        services.member_update(tenant=world.tenant, actor=world.admin, workspace_id=workspace.pk,
                               user_id=world.admin.pk, role="admin")  # fmt: skip

    add(world, workspace, runner, role="owner")
    services.member_update(tenant=world.tenant, actor=world.admin, workspace_id=workspace.pk, user_id=world.admin.pk,
                           role="admin")  # fmt: skip
    with pytest.raises(errors.Conflict):
        services.member_remove(tenant=world.tenant, actor=runner, workspace_id=workspace.pk, user_id=runner.pk)


def test_a_workspace_admin_manages_members_but_not_owners(world, workspace, runner):
    admin_member = member(world.tenant, Role.MEMBER, username="ws-admin")
    add(world, workspace, admin_member, role="admin")

    services.member_add(tenant=world.tenant, actor=admin_member, workspace_id=workspace.pk, user_id=runner.pk)
    with pytest.raises(errors.PermissionDenied):
        services.member_update(tenant=world.tenant, actor=admin_member, workspace_id=workspace.pk, user_id=runner.pk,
                               role="owner")  # fmt: skip
    with pytest.raises(errors.PermissionDenied):
        services.member_remove(
            tenant=world.tenant, actor=admin_member, workspace_id=workspace.pk, user_id=world.admin.pk
        )
    with pytest.raises(errors.PermissionDenied):
        services.workspace_archive(tenant=world.tenant, actor=admin_member, workspace_id=workspace.pk)


def test_a_plain_member_manages_nothing(world, workspace, runner, vendor_check):
    add(world, workspace, runner)
    with pytest.raises(errors.PermissionDenied):
        services.work_unit_add(
            tenant=world.tenant, actor=runner, workspace_id=workspace.pk, work_unit_id="Vendor_Check"
        )


@pytest.mark.parametrize(
    "constraints",
    [{"allowed_environments": ["MARS"]}, {"unknown": 1}, {"max_priority": "high"}, {"valid_until": "someday"}, [1]],
)
def test_constraints_are_validated_against_their_schema(world, workspace, runner, constraints):
    with pytest.raises(errors.ValidationError, match="constraints does not match its schema"):
        add(world, workspace, runner, constraints=constraints)


def test_work_units_are_activities_of_the_tenant_named_by_uuid_or_name(world, workspace, vendor_check):
    unit = services.work_unit_add(tenant=world.tenant, actor=world.admin, workspace_id=workspace.pk,
                                  work_unit_id=str(vendor_check.pk), delegation_id="eatp:del:42")  # fmt: skip
    assert (unit.work_unit_id, unit.work_unit_name, unit.delegation_id) == (
        "Vendor_Check",
        "Vendor_Check",
        "eatp:del:42",
    )
    with pytest.raises(errors.Conflict):
        services.work_unit_add(
            tenant=world.tenant, actor=world.admin, workspace_id=workspace.pk, work_unit_id="Vendor_Check"
        )
    with pytest.raises(errors.NotFound):
        services.work_unit_add(tenant=world.tenant, actor=world.admin, workspace_id=workspace.pk, work_unit_id="Nope")
    with pytest.raises(errors.ValidationError, match="Composite"):
        services.work_unit_add(tenant=world.tenant, actor=world.admin, workspace_id=workspace.pk, work_unit_id="tpl",
                               work_unit_type="composite")  # fmt: skip
    services.work_unit_remove(
        tenant=world.tenant, actor=world.admin, workspace_id=workspace.pk, work_unit_id=str(vendor_check.pk)
    )
    assert not workspace.work_units.exists()


def test_an_archived_workspace_changes_no_more_and_runs_nothing(world, workspace, runner, vendor_check):
    add(world, workspace, runner)
    services.work_unit_add(
        tenant=world.tenant, actor=world.admin, workspace_id=workspace.pk, work_unit_id="Vendor_Check"
    )
    archived = services.workspace_archive(tenant=world.tenant, actor=world.admin, workspace_id=workspace.pk)
    assert archived.archived_at is not None
    assert (
        services.workspace_archive(tenant=world.tenant, actor=world.admin, workspace_id=workspace.pk).archived_at
        == archived.archived_at
    )

    with pytest.raises(errors.Conflict):
        services.member_remove(tenant=world.tenant, actor=world.admin, workspace_id=workspace.pk, user_id=runner.pk)
    with pytest.raises(errors.Conflict):
        RunFactory(tenant=world.tenant, actor=runner, workspace_id=workspace.pk)


# --- running in a workspace --------------------------------------------------------------------
@pytest.fixture
def delegated(world, workspace, vendor_check):
    services.work_unit_add(
        tenant=world.tenant, actor=world.admin, workspace_id=workspace.pk, work_unit_id="Vendor_Check"
    )
    return workspace


def test_a_workspace_member_runs_its_work_units_and_the_run_remembers_the_workspace(world, delegated, runner):
    add(world, delegated, runner)
    run = RunFactory(tenant=world.tenant, actor=runner, workspace_id=delegated.pk)
    assert run.workspace_id == delegated.pk


def test_a_workspace_viewer_cannot_run_its_work_units(world, delegated, runner):
    add(world, delegated, runner, role="viewer")
    with pytest.raises(errors.PermissionDenied, match="Workspace viewers cannot run"):
        RunFactory(tenant=world.tenant, actor=runner, workspace_id=delegated.pk)


def test_a_tenant_member_outside_the_workspace_cannot_run_in_it(world, delegated, runner):
    with pytest.raises(errors.PermissionDenied, match="not a member of this workspace"):
        RunFactory(tenant=world.tenant, actor=runner, workspace_id=delegated.pk)


def test_a_work_unit_not_delegated_to_the_workspace_cannot_run_in_it(world, workspace, runner, vendor_check):
    add(world, workspace, runner)
    with pytest.raises(errors.ValidationError, match="not a work unit of workspace"):
        RunFactory(tenant=world.tenant, actor=runner, workspace_id=workspace.pk)


@pytest.mark.parametrize(
    "member_constraints,unit_constraints,run,allowed",
    [
        ({"allowed_environments": ["DEV"]}, None, {}, False),
        ({"max_priority": 5}, None, {"priority": 6}, False),
        ({"max_priority": 5}, None, {"priority": 5}, True),
        ({"allowed_work_units": ["Other"]}, None, {}, False),
        ({"max_input_bytes": 10}, None, {"input": {"long": "x" * 20}}, False),
        ({"valid_until": "2026-01-01T00:00:00Z"}, None, {}, False),  # the clock is in March 2026
        ({"valid_until": "2027-01-01T00:00:00Z"}, None, {}, True),
        (None, {"allowed_roles": ["owner", "admin"]}, {}, False),
        (None, {"allowed_environments": ["PROD"]}, {}, True),
    ],
)
def test_member_and_work_unit_constraints_narrow_what_runs(
    world, workspace, runner, vendor_check, member_constraints, unit_constraints, run, allowed
):
    services.work_unit_add(tenant=world.tenant, actor=world.admin, workspace_id=workspace.pk, work_unit_id="Vendor_Check",
                           constraints=unit_constraints)  # fmt: skip
    add(world, workspace, runner, constraints=member_constraints)

    if allowed:
        RunFactory(tenant=world.tenant, actor=runner, workspace_id=workspace.pk, **run)
    else:
        with pytest.raises(errors.PermissionDenied, match="constraints do not allow this run"):
            RunFactory(tenant=world.tenant, actor=runner, workspace_id=workspace.pk, **run)


# --- the HTTP surface ----------------------------------------------------------------------------
def test_workspace_endpoints(world, vendor_check, runner, api_client_for, clock):
    admin_api = api_client_for(world.admin)
    created = admin_api.post("/api/v1/workspaces", {"name": "Finance Ops", "description": "Close"}, format="json")
    assert created.status_code == 201 and created.json()["member_count"] == 1
    ws = created.json()["id"]

    clock.advance(seconds=1)  # members are listed in the order they joined
    added = admin_api.post(f"/api/v1/workspaces/{ws}/members",
                           {"user_id": "acme-member", "role": "viewer", "department": "AP", "invited_by": "x@y"},
                           format="json")  # fmt: skip
    assert added.status_code == 201 and added.json()["role"] == "viewer" and added.json()["invited_by"] == "acme-admin"
    patched = admin_api.patch(f"/api/v1/workspaces/{ws}/members/{runner.pk}", {"role": "member"}, format="json")
    assert patched.status_code == 200 and patched.json()["role"] == "member"
    page = admin_api.get(f"/api/v1/workspaces/{ws}/members?limit=1&offset=1").json()
    assert page["count"] == 2 and [m["username"] for m in page["results"]] == ["acme-member"]

    unit = admin_api.post(
        f"/api/v1/workspaces/{ws}/work-units", {"work_unit_id": "Vendor_Check", "added_by": "x"}, format="json"
    )
    assert unit.status_code == 201 and unit.json()["added_by"] == "acme-admin"
    units = admin_api.get(f"/api/v1/workspaces/{ws}/work-units?work_unit_type=atomic").json()
    assert [u["work_unit_id"] for u in units["results"]] == ["Vendor_Check"]
    assert admin_api.get(f"/api/v1/workspaces/{ws}/work-units?work_unit_type=composite").json()["results"] == []

    runner_api = api_client_for(runner)
    run = runner_api.post("/api/v1/work-units/Vendor_Check/run", {"workspace_id": ws}, format="json")
    assert run.status_code == 201 and run.json()["workspace_id"] == ws
    assert len(runner_api.get(f"/api/v1/runs?workspace={ws}").json()["results"]) == 1

    assert admin_api.patch(f"/api/v1/workspaces/{ws}", {"name": "Finance"}, format="json").json()["name"] == "Finance"
    assert admin_api.delete(f"/api/v1/workspaces/{ws}/work-units/Vendor_Check").status_code == 204
    assert admin_api.delete(f"/api/v1/workspaces/{ws}/members/acme-member").status_code == 204
    assert admin_api.delete(f"/api/v1/workspaces/{ws}/members/{world.admin.pk}").status_code == 409
    assert (
        admin_api.post(f"/api/v1/workspaces/{ws}/archive", {"reason": "done"}, format="json").json()["archived"] is True
    )
    assert admin_api.get("/api/v1/workspaces").json()["results"] == []
    assert len(admin_api.get("/api/v1/workspaces?archived=true").json()["results"]) == 1


def test_a_workspace_viewer_gets_403_running_in_it_over_http(world, delegated, runner, api_client_for):
    add(world, delegated, runner, role="viewer")
    response = api_client_for(runner).post("/api/v1/work-units/Vendor_Check/run", {"workspace_id": str(delegated.pk)},
                                           format="json")  # fmt: skip
    assert response.status_code == 403 and response.json()["error_code"] == "PERMISSION_DENIED"


def test_workspace_lists_cost_a_constant_number_of_queries(world, api_client_for, django_assert_max_num_queries):
    admin_api = api_client_for(world.admin)
    WorkspaceFactory(tenant=world.tenant, actor=world.admin)
    with django_assert_max_num_queries(6) as few:
        admin_api.get("/api/v1/workspaces")
    for _ in range(5):
        WorkspaceFactory(tenant=world.tenant, actor=world.admin)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(admin_api.get("/api/v1/workspaces").json()["results"]) == 6
