"""Every admin list shows a lifecycle column (``status``/``state`` with choices) as the coloured
badge the registry's lists use (``ocx-status-<value>``, styled in static/ocx/admin.css)."""

import pytest
from django.contrib import admin

from ocx.core.access import Role
from tests.factories import member
from tests.workflow.factories import make_task


@pytest.fixture
def staff_admin(tenant):
    user = member(tenant, Role.ADMIN, username="badge-admin")
    user.is_staff = True
    user.is_superuser = True
    user.save()
    return user


def test_a_lifecycle_column_of_any_admin_list_is_a_badge(rf, staff_admin):
    columns = {}
    for model, model_admin in admin.site._registry.items():
        request = rf.get("/")
        request.user = staff_admin
        for column in model_admin.get_list_display(request):
            if callable(column) and getattr(column, "__name__", "") in {"status_badge", "state_badge"}:
                columns[model._meta.label] = column
    # the task's and the run's lists (neither declares a badge itself) get one
    assert {"workflow.Task", "runs.Run"} <= set(columns)


def test_the_task_list_renders_its_state_as_a_coloured_badge(client, staff_admin, tenant):
    make_task(tenant, creator=staff_admin, title="Badge me")
    client.force_login(staff_admin)

    page = client.get("/admin/workflow/task/").content.decode()

    assert 'class="ocx-status ocx-status-' in page
