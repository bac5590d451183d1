"""The seed's HTTP examples, as written, under /api/v1."""

import pytest

from tests.workflow.factories import make_task, task_in

pytestmark = pytest.mark.django_db

BASE = "/api/v1/workflow"


def test_create_task_as_in_seed(member_api, member_user):
    response = member_api.post(
        f"{BASE}/tasks",
        {
            "title": "Process Application",
            "description": "Review and process new application",
            "task_type": "intake",
            "priority": "high",
            "assigned_to": "acme-member",
            "due_date": "2024-01-15T10:00:00Z",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["state"] == "new"
    assert body["assigned_to"] == "acme-member" and body["created_by"] == "acme-member"
    assert body["sla"]["target_minutes"] == 60 and body["sla"]["status"] == "running"
    assert body["allowed_transitions"] == ["in_progress", "blocked", "cancelled"]


def test_create_task_refuses_unknown_fields_and_assignee_outside_tenant(member_api, other_admin):
    assert member_api.post(f"{BASE}/tasks", {"title": "x", "taskType": "intake"}, format="json").status_code == 400
    response = member_api.post(f"{BASE}/tasks", {"title": "x", "assigned_to": "globex-admin"}, format="json")
    assert response.status_code == 400 and response.json()["error_code"] == "VALIDATION_ERROR"


def test_transition_as_in_seed_returns_task_and_transition_record(member_api, tenant, member_user):
    task = make_task(tenant, creator=member_user)
    response = member_api.post(
        f"{BASE}/tasks/{task.pk}/transition",
        {
            "target_state": "in_progress",
            "context": {"reason": "Starting work", "estimated_completion": "2024-01-15T12:00:00Z"},
            "notes": "Beginning task execution",
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["success"] is True
    assert body["task"]["state"] == "in_progress"
    assert body["transition"]["from_state"] == "new" and body["transition"]["to_state"] == "in_progress"
    assert body["transition"]["context"]["reason"] == "Starting work"
    assert body["transition"]["notes"] == "Beginning task execution"
    assert body["transition"]["actor"] == "acme-member"


def test_illegal_transition_returns_seed_error_body(member_api, tenant, member_user):
    task = task_in(tenant, "in_progress", creator=member_user)
    response = member_api.post(f"{BASE}/tasks/{task.pk}/transition", {"target_state": "new"}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "message": "Transition from in_progress to new not allowed",
        "error_code": "INVALID_TRANSITION",
        "details": {"current_state": "in_progress", "target_state": "new", "entity_type": "Task"},
    }


def test_transition_by_stranger_is_403(api_client_for, tenant, member_user, other_member):
    task = make_task(tenant, creator=member_user)
    response = api_client_for(other_member).post(
        f"{BASE}/tasks/{task.pk}/transition", {"target_state": "in_progress"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["error_code"] == "PERMISSION_DENIED"
    assert response.json()["message"] == "Insufficient permissions"


def test_get_task_details_with_sla_and_history(member_api, tenant, member_user):
    task = task_in(tenant, "blocked", creator=member_user)
    body = member_api.get(f"{BASE}/tasks/{task.pk}").json()
    assert body["state"] == "blocked"
    assert body["sla"]["status"] == "paused"
    assert [t["to_state"] for t in body["transitions"]] == ["blocked"]


def test_task_of_other_tenant_is_404(other_api, tenant, member_user):
    task = make_task(tenant, creator=member_user)
    assert other_api.get(f"{BASE}/tasks/{task.pk}").status_code == 404
    response = other_api.post(f"{BASE}/tasks/{task.pk}/transition", {"target_state": "in_progress"}, format="json")
    assert response.status_code == 404


def test_list_tasks_as_in_seed(member_api, tenant, member_user):
    task_in(tenant, "in_progress", creator=member_user, task_type="intake")
    task_in(tenant, "in_progress", creator=member_user, task_type="review")
    task_in(tenant, "new", creator=member_user, task_type="intake")
    body = member_api.get(f"{BASE}/tasks?state=in_progress&task_type=intake&limit=50").json()
    assert body["count"] == 1
    assert body["results"][0]["state"] == "in_progress" and body["results"][0]["task_type"] == "intake"


@pytest.mark.parametrize("limit", [1, 30])
def test_list_tasks_query_count_is_constant(member_api, tenant, member_user, django_assert_num_queries, limit):
    for _ in range(30):
        make_task(tenant, creator=member_user, assignee=member_user)
    member_api.get(f"{BASE}/tasks?limit=1")  # warm the token / membership caches of the first request
    with django_assert_num_queries(3):  # token with memberships, count, rows
        response = member_api.get(f"{BASE}/tasks?limit={limit}")
    assert len(response.json()["results"]) == limit


def test_action_plan_seed_examples(admin_api):
    response = admin_api.post(
        f"{BASE}/action-plans",
        {
            "title": "Q1 Compliance Plan",
            "description": "Quarterly compliance action plan",
            "goals": [
                "Complete all pending assessments",
                "Update compliance documentation",
                "Schedule quarterly review",
            ],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    plan_id = response.json()["id"]
    assert response.json()["state"] == "draft"

    activated = admin_api.post(f"{BASE}/action-plans/{plan_id}/activate")
    assert activated.status_code == 200, activated.json()
    assert activated.json()["action_plan"]["state"] == "active"

    archived = admin_api.post(f"{BASE}/action-plans/{plan_id}/archive")
    assert archived.status_code == 200
    assert archived.json()["action_plan"]["state"] == "archived"

    again = admin_api.post(f"{BASE}/action-plans/{plan_id}/activate")
    assert again.status_code == 400
    assert again.json()["details"] == {
        "current_state": "archived",
        "target_state": "active",
        "entity_type": "ActionPlan",
    }
    assert admin_api.get(f"{BASE}/action-plans").json()["count"] == 1


def test_member_cannot_activate_plan(member_api, admin_api):
    plan_id = admin_api.post(f"{BASE}/action-plans", {"title": "P", "goals": ["g"]}, format="json").json()["id"]
    response = member_api.post(f"{BASE}/action-plans/{plan_id}/activate")
    assert response.status_code == 403 and response.json()["error_code"] == "PERMISSION_DENIED"


def test_sla_config_seed_examples(admin_api):
    response = admin_api.post(
        f"{BASE}/sla-configs",
        {"service_area": "intake", "target_minutes": 60, "task_type": "intake", "active": True},
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["scope"] == "tenant"
    listing = admin_api.get(f"{BASE}/sla-configs?active_only=true").json()
    assert {(c["task_type"], c["scope"]) for c in listing["results"]} >= {
        ("intake", "tenant"), ("intake", "global"), ("assessment", "global"), ("review", "global"), ("general", "global"),
    }  # fmt: skip
    config_id = response.json()["id"]
    assert (
        admin_api.patch(f"{BASE}/sla-configs/{config_id}", {"active": False}, format="json").json()["active"] is False
    )
    assert admin_api.get(f"{BASE}/sla-configs?active_only=true").json()["count"] == 4
    assert admin_api.delete(f"{BASE}/sla-configs/{config_id}").status_code == 204


def test_sla_configs_need_manage_sla(member_api):
    assert member_api.get(f"{BASE}/sla-configs").status_code == 403
    response = member_api.post(
        f"{BASE}/sla-configs", {"service_area": "a", "task_type": "b", "target_minutes": 5}, format="json"
    )
    assert response.status_code == 403 and response.json()["error_code"] == "PERMISSION_DENIED"


def test_metadata_is_public(anon_api):
    response = anon_api.get(f"{BASE}/metadata")
    assert response.status_code == 200
    assert set(response.json()["state_machines"]) == {"task", "action_plan"}


def test_viewer_cannot_create_or_transition(api_client_for, viewer_user, tenant, member_user):
    client = api_client_for(viewer_user)
    assert client.get(f"{BASE}/tasks").status_code == 200
    assert client.post(f"{BASE}/tasks", {"title": "x"}, format="json").status_code == 403
    task = make_task(tenant, creator=member_user)
    assert (
        client.post(f"{BASE}/tasks/{task.pk}/transition", {"target_state": "cancelled"}, format="json").status_code
        == 403
    )


def test_anonymous_is_refused(anon_api):
    assert anon_api.get(f"{BASE}/tasks").status_code in (401, 403)


def test_duplicate_sla_config_is_409(admin_api):
    body = {"service_area": "intake", "target_minutes": 30, "task_type": "intake"}
    assert admin_api.post(f"{BASE}/sla-configs", body, format="json").status_code == 201
    response = admin_api.post(f"{BASE}/sla-configs", body, format="json")
    assert response.status_code == 409 and response.json()["error_code"] == "CONFLICT"


def test_task_list_count_is_bounded_past_the_page_and_says_so(member_api, tenant, member_user, monkeypatch):
    from ocx.core.api.pagination import LimitPagination

    monkeypatch.setattr(LimitPagination, "count_cap", 2)
    for _ in range(6):
        make_task(tenant, creator=member_user)

    first = member_api.get(f"{BASE}/tasks?limit=2").json()
    last = member_api.get(f"{BASE}/tasks?limit=2&offset=4").json()

    assert (first["count"], first["count_exact"]) == (4, False)
    assert first["next"] is not None
    assert (last["count"], last["count_exact"]) == (6, True)
    assert last["next"] is None
