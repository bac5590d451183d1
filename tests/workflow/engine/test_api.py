import json

import pytest

from tests.workflow.engine.factories import activity, definition, fast, phase
from workflow.engine.data import TEST_CYCLE
from workflow.engine.models import Incident, WorkflowTemplate

pytestmark = pytest.mark.django_db

BASE = "/api/v1/workflow"


def _create(api, data):
    response = api.post(f"{BASE}/templates", data, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_template_create_validate_publish_export_and_new_version(admin_api, recorder):
    data = definition(phase("p", 1, activity("a"), activity("b", depends_on=["a"])), name="api")
    assert admin_api.post(f"{BASE}/templates/validate", data, format="json").json() == {"valid": True, "activities": 2}
    created = _create(admin_api, data)
    assert (created["version"], created["status"]) == (1, "draft")
    published = admin_api.post(f"{BASE}/templates/{created['id']}/publish").json()
    assert published["status"] == "published"
    exported = admin_api.get(f"{BASE}/templates/{created['id']}/export").json()
    assert exported["phases"][0]["activities"][1]["depends_on"] == ["a"]
    v2 = admin_api.post(f"{BASE}/templates/{created['id']}/new-version", {}, format="json").json()
    assert (v2["version"], v2["status"]) == (2, "draft")
    listed = admin_api.get(f"{BASE}/templates?name=api").json()
    assert [t["version"] for t in listed["results"]] == [2, 1]


def test_invalid_template_answers_the_envelope_naming_the_activity(admin_api, recorder):
    data = definition(phase("p", 1, activity("a", handler="Nope")))
    response = admin_api.post(f"{BASE}/templates", data, format="json")
    body = response.json()
    assert response.status_code == 400 and body["error_code"] == "VALIDATION_ERROR"
    assert body["details"] == {"activities.a.handler_name": [body["message"]]} and "Nope" in body["message"]


def test_members_cannot_publish_and_other_tenants_see_nothing(admin_api, member_api, other_api, recorder):
    created = _create(admin_api, definition(phase("p", 1, activity("a"))))
    assert member_api.post(f"{BASE}/templates/{created['id']}/publish").status_code == 403
    assert other_api.get(f"{BASE}/templates/{created['id']}").status_code == 404


def test_start_by_name_detail_timeline_and_incident_groups(admin_api, recorder, django_capture_on_commit_callbacks):
    recorder.failures.update({"x1": 1, "x2": 1})
    data = definition(
        phase(
            "fan",
            1,
            activity("per", execution_mode="parallel", retry_policy=fast(maximum_attempts=1)),
            mode="parallel",
            fan_out_over="xs",
        ),
        name="api2",
    )
    created = _create(admin_api, data)
    admin_api.post(f"{BASE}/templates/{created['id']}/publish")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post(
            f"{BASE}/instances", {"template_name": "api2", "context": {"xs": ["x1", "x2", "x3"]}}, format="json"
        )
    assert response.status_code == 201, response.json()
    inst_id = response.json()["id"]
    detail = admin_api.get(f"{BASE}/instances/{inst_id}").json()
    assert detail["state"] == "failed"
    states = sorted(a["state"] for a in detail["phases"][0]["activities"])
    assert states == ["completed", "failed", "failed", "failed"]
    failed_child = next(a for a in detail["phases"][0]["activities"] if a["instance_id"] == "per[0]")
    assert failed_child["attempts"][0]["error"] == "x1 failed"
    groups = admin_api.get(f"{BASE}/incidents").json()["groups"]
    assert {(g["error_type"], g["message"], g["count"]) for g in groups} == {
        ("Flaky", "x1 failed", 1),
        ("Flaky", "x2 failed", 1),
    }
    timeline = admin_api.get(f"{BASE}/instances/{inst_id}/timeline").json()
    assert timeline["results"][0]["type"] == "workflow.instance.started"
    with django_capture_on_commit_callbacks(execute=True):
        retried = admin_api.post(f"{BASE}/incidents/retry", {"error_type": "Flaky"}, format="json").json()
    assert retried == {"retried_instances": [inst_id]}
    assert admin_api.get(f"{BASE}/instances/{inst_id}").json()["state"] == "completed"
    assert not Incident.objects.all_tenants().filter(resolved_at__isnull=True).exists()
    listed = admin_api.get(f"{BASE}/instances?state=completed&template_name=api2").json()
    assert [i["id"] for i in listed["results"]] == [inst_id]


def test_cancel_and_skip_endpoints(admin_api, recorder, django_capture_on_commit_callbacks):
    recorder.failures["a"] = 5
    created = _create(
        admin_api,
        definition(phase("p", 1, activity("a", retry_policy=fast(maximum_attempts=1)), activity("b")), name="ops"),
    )
    admin_api.post(f"{BASE}/templates/{created['id']}/publish")
    with django_capture_on_commit_callbacks(execute=True):
        inst = admin_api.post(f"{BASE}/instances", {"template_id": created["id"]}, format="json").json()
    detail = admin_api.get(f"{BASE}/instances/{inst['id']}").json()
    failed = next(a for a in detail["phases"][0]["activities"] if a["key"] == "a")
    assert (
        admin_api.post(f"{BASE}/instances/{inst['id']}/activities/{failed['id']}/skip", {}, format="json").status_code
        == 400
    )
    with django_capture_on_commit_callbacks(execute=True):
        skipped = admin_api.post(
            f"{BASE}/instances/{inst['id']}/activities/{failed['id']}/skip", {"reason": "known issue"}, format="json"
        )
    assert skipped.json()["state"] == "skipped"
    assert admin_api.get(f"{BASE}/instances/{inst['id']}").json()["state"] == "completed"
    cancel = admin_api.post(f"{BASE}/instances/{inst['id']}/cancel", {}, format="json")
    assert cancel.status_code == 400 and cancel.json()["error_code"] == "INVALID_TRANSITION"


def test_the_test_cycle_json_is_accepted_by_the_api(admin_api):
    created = _create(admin_api, json.loads(TEST_CYCLE.read_text()))
    assert WorkflowTemplate.objects.all_tenants().get(pk=created["id"]).activities.count() == 49


@pytest.mark.parametrize(
    ("path", "name", "allowed"),
    [
        ("templates", "status", ["draft", "published"]),
        ("instances", "state", ["pending", "running", "completed", "failed", "cancelled", "compensating"]),
    ],
)
def test_list_filters_refuse_an_unknown_choice_listing_the_allowed_values(admin_api, path, name, allowed):
    response = admin_api.get(f"{BASE}/{path}", {name: "BANANA"})
    body = response.json()
    assert response.status_code == 400 and body["error_code"] == "VALIDATION_ERROR"
    assert list(body["details"]) == [name]
    assert "BANANA" in body["message"] and all(value in body["message"] for value in allowed)


def test_list_filters_accept_known_choices_and_a_state_list(admin_api, recorder, django_capture_on_commit_callbacks):
    created = _create(admin_api, definition(phase("p", 1, activity("a")), name="filters"))
    _create(admin_api, definition(phase("p", 1, activity("a")), name="draft-only"))
    admin_api.post(f"{BASE}/templates/{created['id']}/publish")
    published = admin_api.get(f"{BASE}/templates", {"status": "published"}).json()
    assert [t["name"] for t in published["results"]] == ["filters"]
    with django_capture_on_commit_callbacks(execute=True):
        inst = admin_api.post(f"{BASE}/instances", {"template_id": created["id"]}, format="json").json()
    assert admin_api.get(f"{BASE}/instances", {"state": "completed,failed"}).json()["results"][0]["id"] == inst["id"]
    assert admin_api.get(f"{BASE}/instances", {"state": "running"}).json()["results"] == []


def _failing_instance(api, name, capture):
    created = _create(api, definition(phase("p", 1, activity(name, retry_policy=fast(maximum_attempts=1))), name=name))
    api.post(f"{BASE}/templates/{created['id']}/publish")
    with capture(execute=True):
        api.post(f"{BASE}/instances", {"template_id": created["id"]}, format="json")
    return created["id"]


def test_incidents_answer_one_object_of_groups_and_incidents_filtered_by_template(
    admin_api, recorder, django_capture_on_commit_callbacks
):
    # given two templates whose one activity fails for good
    recorder.failures.update({"left": 1, "right": 1})
    left = _failing_instance(admin_api, "left", django_capture_on_commit_callbacks)
    _failing_instance(admin_api, "right", django_capture_on_commit_callbacks)

    # when the operator narrows the overview to one template
    response = admin_api.get(f"{BASE}/incidents", {"template_id": left, "all": "true"})

    # then both halves hold that template's incident only, in one object (no page envelope)
    body = response.json()
    assert response.status_code == 200 and set(body) == {"groups", "incidents"}
    assert [(g["message"], g["count"], g["instances"]) for g in body["groups"]] == [("left failed", 1, 1)]
    assert [i["activity_key"] for i in body["incidents"]] == ["left"]
    assert len(admin_api.get(f"{BASE}/incidents").json()["incidents"]) == 2


def test_incidents_refuse_a_flag_that_is_not_a_boolean(admin_api):
    body = admin_api.get(f"{BASE}/incidents", {"all": "BANANA"}).json()
    assert body["error_code"] == "VALIDATION_ERROR" and list(body["details"]) == ["all"]
