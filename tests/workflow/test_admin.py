"""Admin: transition buttons go through the service; trigger forms refuse unsafe predicates."""

import pytest
from django.urls import reverse

from tests.factories import UserFactory
from tests.workflow.factories import make_task
from workflow.models import AutomationTrigger, Task

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client(client):
    user = UserFactory(username="root")
    user.is_staff = user.is_superuser = True
    user.save()
    client.force_login(user)
    return client


def test_task_change_page_shows_allowed_transitions(superuser_client, tenant, member_user):
    task = make_task(tenant, creator=member_user)
    page = superuser_client.get(reverse("admin:workflow_task_change", args=[task.pk])).content.decode()
    assert "Start work → in_progress" in page and "Issue identified → blocked" in page
    assert "Work finished" not in page


def test_transition_button_moves_task_through_service(superuser_client, tenant, member_user):
    task = make_task(tenant, creator=member_user)
    response = superuser_client.post(reverse("admin:workflow_task_transition", args=[task.pk, "in_progress"]))
    assert response.status_code == 302
    task.refresh_from_db()
    assert task.state == "in_progress" and task.sla.status == "running"


def test_refused_transition_button_shows_message(superuser_client, tenant, member_user):
    task = make_task(tenant, creator=member_user)
    response = superuser_client.post(
        reverse("admin:workflow_task_transition", args=[task.pk, "completed"]), follow=True
    )
    assert "Transition from new to completed not allowed" in response.content.decode()
    assert Task.objects.for_tenant(tenant).get(pk=task.pk).state == "new"


def test_task_list_filters_by_sla(superuser_client, tenant, member_user):
    make_task(tenant, creator=member_user)
    assert superuser_client.get(reverse("admin:workflow_task_changelist") + "?sla=breached").status_code == 200
    assert superuser_client.get(reverse("admin:workflow_task_changelist") + "?sla=at_risk").status_code == 200


def test_trigger_form_refuses_attribute_access(superuser_client):
    response = superuser_client.post(
        reverse("admin:workflow_automationtrigger_add"),
        {
            "name": "evil",
            "event_type": "workflow.task.blocked",
            "predicate": "title.__class__",
            "actions": '[{"action_type": "emit_alert", "parameters": {"alert_type": "x"}}]',
            "is_active": "on",
            "position": 1,
        },
    )
    assert response.status_code == 200
    assert "Attribute access is not allowed" in response.content.decode()
    assert not AutomationTrigger.objects.filter(name="evil").exists()


def test_adding_task_in_admin_goes_through_service(superuser_client, tenant):
    response = superuser_client.post(
        reverse("admin:workflow_task_add"),
        {"tenant": tenant.pk, "title": "From admin", "description": "", "task_type": "intake", "service_area": "",
         "priority": "high", "metadata": "{}"},
    )  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    task = Task.objects.for_tenant(tenant).get(title="From admin")
    assert task.state == "new" and task.sla.target_minutes == 60


def test_tenant_staff_cannot_create_global_trigger(client, tenant, admin_user):
    from django.contrib.auth.models import Permission

    admin_user.is_staff = True
    admin_user.save()
    admin_user.user_permissions.add(*Permission.objects.filter(content_type__app_label="workflow"))
    client.force_login(admin_user)
    response = client.post(
        reverse("admin:workflow_automationtrigger_add"),
        {
            "name": "global?",
            "event_type": "workflow.task.blocked",
            "predicate": "",
            "actions": '[{"action_type": "emit_alert", "parameters": {"alert_type": "x"}}]',
            "is_active": "on",
            "position": 1,
        },
    )
    assert response.status_code == 200  # the form is shown again: tenant is required
    assert not AutomationTrigger.objects.filter(name="global?").exists()


def test_transition_button_refused_by_a_guard_says_why(superuser_client, tenant, admin_user):
    from tests.workflow.factories import make_plan
    from workflow import services

    plan = make_plan(tenant, creator=admin_user)
    task = make_task(tenant, creator=admin_user, action_plan_id=plan.pk)
    services.action_plan_archive(tenant=tenant, plan_id=plan.pk, actor=admin_user)

    response = superuser_client.post(
        reverse("admin:workflow_task_transition", args=[task.pk, "in_progress"]), follow=True
    )

    assert "archived action plan" in response.content.decode()
    assert Task.objects.for_tenant(tenant).get(pk=task.pk).state == "new"


def test_transition_page_runs_the_service_with_admin_notes(superuser_client, tenant, admin_user):
    from tests.workflow.factories import make_plan
    from workflow.models import StateTransition

    plan = make_plan(tenant, creator=admin_user)
    page = superuser_client.get(reverse("admin:workflow_actionplan_change", args=[plan.pk])).content.decode()
    assert "Activate plan → active" in page and "Archive without activation → archived" in page

    url = reverse("admin:workflow_actionplan_action", args=[plan.pk, "activate"])
    assert superuser_client.get(url).status_code == 200  # a confirmation page
    assert superuser_client.post(url).status_code == 302

    record = StateTransition.objects.for_tenant(tenant).get(entity_type="action_plan", entity_id=plan.pk)
    assert (record.to_state, record.notes, record.actor.username) == ("active", "admin", "root")
