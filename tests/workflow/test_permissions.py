"""Who may transition a task: its creator or assignee (with UPDATE_TASK), or a tenant admin."""

import pytest

from ocx.core import errors
from ocx.core.access import Role
from tests.factories import member
from tests.workflow.factories import make_task
from workflow import services

pytestmark = pytest.mark.django_db


def _go(task, actor):
    return services.task_transition(tenant=task.tenant_id, task_id=task.pk, target_state="in_progress", actor=actor)


def test_creator_may_transition(tenant, member_user):
    assert _go(make_task(tenant, creator=member_user), member_user)[0].state == "in_progress"


def test_assignee_may_transition(tenant, member_user, other_member):
    assert _go(make_task(tenant, creator=member_user, assignee=other_member), other_member)[0].state == "in_progress"


@pytest.mark.parametrize("role", [Role.ADMIN, Role.OWNER])
def test_admin_roles_may_transition_any_task(tenant, member_user, role):
    assert _go(make_task(tenant, creator=member_user), member(tenant, role))[0].state == "in_progress"


def test_other_member_is_denied(tenant, member_user, other_member):
    task = make_task(tenant, creator=member_user)
    with pytest.raises(errors.PermissionDenied) as caught:
        _go(task, other_member)
    assert caught.value.as_dict()["error_code"] == "PERMISSION_DENIED"
    task.refresh_from_db()
    assert task.state == "new"


def test_creator_demoted_to_viewer_is_denied(tenant, member_user):
    from ocx.core.models import Membership

    task = make_task(tenant, creator=member_user)
    Membership.objects.filter(user=member_user).update(role=Role.VIEWER)
    member_user._ocx_roles = None
    with pytest.raises(errors.PermissionDenied):
        _go(task, member_user)


def test_viewer_cannot_create(tenant, viewer_user):
    with pytest.raises(errors.PermissionDenied):
        services.task_create(tenant=tenant, actor=viewer_user, title="x")


def test_admin_of_other_tenant_cannot_reach_task(tenant, member_user, other_admin, other_tenant):
    task = make_task(tenant, creator=member_user)
    with pytest.raises(errors.NotFound):
        services.task_transition(tenant=other_tenant, task_id=task.pk, target_state="in_progress", actor=other_admin)


def test_stats_are_for_admins_only(member_api, admin_api):
    assert member_api.get("/api/v1/workflow/stats").status_code == 403
    assert admin_api.get("/api/v1/workflow/stats").status_code == 200
