"""A strict, predictable API (issue 14), checked on every endpoint the OpenAPI schema lists, so an
endpoint added later is covered without touching this file:

- every choice filter of every list endpoint refuses an unknown value with a 400 listing the
  allowed values;
- every write endpoint refuses, per field of its body: an unknown field, a value of the wrong
  JSON type (a number for a string, a string for a number or a boolean), a string over its
  documented cap — each a ``VALIDATION_ERROR`` naming the field;
- ``details`` has one shape, ``{"field": ["message", …]}``, for every validation error
  (bodies, semver, pagination, query parameters);
- every free-text field of a request body has a cap published as ``maxLength``;
- list endpoints don't carry the EBCL source (the detail does).
"""

from __future__ import annotations

import re

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient

from ocx.core.access import Role
from tests.factories import member, token_for

pytestmark = pytest.mark.django_db

WRITE_METHODS = ("post", "put", "patch")
# SSE never ends (tests/activity_feed cover its filters); ingestion takes a vendor's free-form
# payload (no declared properties: nothing to be strict about), signed or token-authenticated.
SKIPPED_PATHS = {"/api/v1/events/stream"}
# Query parameters named like a choice: a list endpoint that takes one must publish its values.
CHOICE_NAMES = {"status", "state", "priority", "approval_type", "environment", "role", "work_unit_type", "sources"}
# Filters of other owners' views still published as free strings (see the lead's report):
# remove a line when its view declares the enum (then the generic test covers it).
KNOWN_GAPS: set[tuple[str, str]] = set()
BANANA = "BANANA"


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


@pytest.fixture
def api(tenant):
    user = member(tenant, Role.OWNER, username="acme-owner")
    user.is_superuser = True  # every permission: the body is what is under test
    user.save(update_fields=["is_superuser"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    return client


def assert_field_errors(response, *fields):
    """A 400 VALIDATION_ERROR whose details are ``{"field": ["message", …]}`` naming ``fields``."""
    assert response.status_code == 400, (response.status_code, response.content[:500])
    body = response.json()
    assert body["error_code"] == "VALIDATION_ERROR", body
    details = body["details"]
    assert details and all(
        isinstance(key, str) and isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages)
        for key, messages in details.items()
    ), details
    for field in fields:
        assert field in details, (field, details)
    return body


def _fill(path: str) -> str:
    # Ids that name nothing: validation comes before the lookup, so a bad body is a 400 anyway.
    values = {"name": "nothing", "source": "generic"}
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "00000000-0000-4000-8000-000000000000"), path)


def _operations(schema, methods):
    for path, operations in sorted(schema["paths"].items()):
        if path in SKIPPED_PATHS:
            continue
        for method, operation in operations.items():
            if method in methods:
                yield path, method, operation


def _enum(parameter) -> list | None:
    spec = parameter.get("schema", {})
    return spec.get("enum") or spec.get("items", {}).get("enum")


def _body_schema(schema, operation) -> dict | None:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if not content or "$ref" not in content["schema"]:
        return None
    return schema["components"]["schemas"][content["schema"]["$ref"].rsplit("/", 1)[1]]


# --- choice filters -------------------------------------------------------------------------------
def test_every_choice_filter_of_every_list_endpoint_refuses_an_unknown_value_listing_the_allowed(schema, api):
    checked, wrong = [], []
    for path, _, operation in _operations(schema, ("get",)):
        for parameter in operation.get("parameters", []):
            allowed = _enum(parameter)
            if parameter["in"] != "query" or not allowed:
                continue
            name = parameter["name"]
            checked.append((path, name))
            response = api.get(_fill(path), {name: BANANA})
            body = response.json()
            message = " ".join(body.get("details", {}).get(name, []))
            if (
                response.status_code != 400
                or body.get("error_code") != "VALIDATION_ERROR"
                or set(body["details"]) != {name}
                or not all(str(value) in message for value in allowed)
            ):
                wrong.append((path, name, response.status_code, body))
    assert wrong == []
    # the enumeration found the filters (it cannot pass by finding none)
    assert {("/api/v1/activities", "status"), ("/api/v1/workflow/tasks", "state"), ("/api/v1/events", "sources"),
            ("/api/v1/approvals/pending", "approval_type"), ("/api/v1/workflow/action-plans", "state")} <= set(checked)  # fmt: skip


def test_a_multi_valued_choice_filter_refuses_one_unknown_value_among_good_ones(api):
    response = api.get("/api/v1/workflow/tasks", {"state": "new,BANANA"})

    body = assert_field_errors(response, "state")
    assert "BANANA" in body["message"] and "in_progress" in body["message"]
    assert api.get("/api/v1/workflow/tasks", {"state": "new,blocked"}).status_code == 200


def test_list_filters_named_like_choices_publish_their_values(schema):
    undeclared = {
        (path, parameter["name"])
        for path, _, operation in _operations(schema, ("get",))
        for parameter in operation.get("parameters", [])
        if parameter["in"] == "query" and parameter["name"] in CHOICE_NAMES and not _enum(parameter)
    }
    assert undeclared - KNOWN_GAPS == set()


# --- write endpoints ----------------------------------------------------------------------------
def _write_bodies(schema):
    """``(path, method, properties)`` of every write endpoint whose body declares its fields."""
    found = []
    for path, method, operation in _operations(schema, WRITE_METHODS):
        body = _body_schema(schema, operation)
        if body and body.get("properties"):
            found.append((path, method, body["properties"]))
    return found


def _send(api, method, path, data):
    return getattr(api, method)(_fill(path), data, format="json")


def _wrong_value(spec: dict):
    kind = spec.get("type")
    if kind == "string":
        return 12345
    if kind in {"integer", "number"}:
        return "5"
    if kind == "boolean":
        return "yes"
    return None


def test_every_write_endpoint_refuses_unknown_fields_by_name(schema, api):
    wrong = []
    for path, method, _ in _write_bodies(schema):
        response = _send(api, method, path, {"zz_not_a_field": "x"})
        details = response.json().get("details", {})
        if response.status_code != 400 or details.get("zz_not_a_field") != ["Unknown field."]:
            wrong.append((method, path, response.status_code, details))
    assert wrong == []
    assert len(_write_bodies(schema)) >= 30


def test_every_write_endpoint_refuses_a_value_of_the_wrong_json_type_in_every_field(schema, api):
    wrong, checked = [], 0
    for path, method, properties in _write_bodies(schema):
        for field, spec in properties.items():
            if spec.get("readOnly") or (value := _wrong_value(spec)) is None:
                continue
            checked += 1
            response = _send(api, method, path, {field: value})
            details = response.json().get("details", {})
            if response.status_code != 400 or field not in details:
                wrong.append((method, path, field, value, response.status_code, details))
    assert wrong == []
    assert checked >= 100


def test_every_capped_text_field_of_every_write_endpoint_refuses_one_character_more(schema, api):
    wrong, checked = [], 0
    for path, method, properties in _write_bodies(schema):
        for field, spec in properties.items():
            cap = spec.get("maxLength")
            if spec.get("type") != "string" or not cap or spec.get("readOnly") or "pattern" in spec:
                continue
            checked += 1
            response = _send(api, method, path, {field: "x" * (cap + 1)})
            details = response.json().get("details", {})
            if response.status_code != 400 or field not in details:
                wrong.append((method, path, field, cap, response.status_code, details))
    assert wrong == []
    assert checked >= 50


def test_every_free_text_field_of_a_request_body_publishes_a_cap(schema):
    uncapped = []
    for path, method, properties in _write_bodies(schema):
        for field, spec in properties.items():
            items = spec.get("items", {}) if spec.get("type") == "array" else spec
            if items.get("type") == "string" and not {"maxLength", "enum", "format"} & set(items):
                uncapped.append((method, path, field))
    assert uncapped == []


def test_ebcl_source_has_a_documented_cap(schema):
    from registry.serializers import EBCL_SOURCE_MAX_LENGTH

    create = schema["components"]["schemas"]["ActivityCreateInputRequest"]["properties"]
    assert create["ebcl_source"]["maxLength"] == EBCL_SOURCE_MAX_LENGTH == 200_000


# --- one shape for details ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/activities?page=abc", "page"),
        ("/api/v1/activities?page_size=0", "page_size"),
        ("/api/v1/workflow/tasks?limit=-1", "limit"),
        ("/api/v1/workflow/tasks?offset=x", "offset"),
        ("/api/v1/workflow/tasks?action_plan_id=1.5", "action_plan_id"),
        ("/api/v1/events?start_date=yesterday", "start_date"),
        ("/api/v1/events?end_date=2026-13-45", "end_date"),
        ("/api/v1/events?cursor=not-a-cursor", "cursor"),
        ("/api/v1/events?sort_order=sideways", "sort_order"),
        ("/api/v1/events?page_size=abc", "page_size"),
        ("/api/v1/approvals/pending?mine=perhaps", "mine"),
        ("/api/v1/activities/00000000-0000-4000-8000-000000000000/executions?limit=5000", "limit"),
    ],
)
def test_query_parameter_and_pagination_errors_name_the_parameter_with_messages(api, url, field):
    assert_field_errors(api.get(url), field)


def test_semver_and_body_errors_have_the_same_shape(api):
    activity = {"name": "po", "version": "one", "ebcl_source": "x", "owner": "ops"}

    body = assert_field_errors(api.post("/api/v1/activities", activity, format="json"), "version")
    assert body["details"] == {"version": ["version must be a semantic version (MAJOR.MINOR.PATCH)."]}

    nested = {"title": "t", "goals": ["ok", 7]}
    body = assert_field_errors(api.post("/api/v1/workflow/action-plans", nested, format="json"), "goals[1]")
    assert body["details"] == {"goals[1]": ["Not a valid string."]}


def test_the_shape_is_kept_for_application_errors_with_non_message_details():
    from ocx.core import errors

    error = errors.ValidationError("environment must be DEV, STAGING or PROD.", details={"environment": "MARS"})
    assert error.details == {"environment": ["environment must be DEV, STAGING or PROD."]}
    error = errors.ValidationError("nested", details={"actions": {0: {"url": ["Bad URL."]}}, "reason": "required"})
    assert error.details == {"actions[0].url": ["Bad URL."], "reason": ["nested"]}
    assert errors.PayloadTooLarge(details={"max_bytes": 10}).details == {"max_bytes": 10}  # its own code


# --- strict types, one rule for every serializer ----------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value"),
    [("title", 12), ("title", True), ("title", 1.5), ("priority", 3), ("due_date", 1700000000), ("metadata", "x"),
     ("action_plan_id", "5"), ("action_plan_id", True), ("description", ["a"])],
)  # fmt: skip
def test_a_value_of_the_wrong_type_is_refused_not_converted(api, field, value):
    body = {"title": "Call back", field: value}

    assert_field_errors(api.post("/api/v1/workflow/tasks", body, format="json"), field)


def test_an_unknown_task_priority_lists_the_allowed_values(api):
    body = assert_field_errors(api.post("/api/v1/workflow/tasks", {"title": "t", "priority": "urgent"}, format="json"))
    assert body["details"]["priority"] == ["Unknown value 'urgent'; allowed: low, medium, high, critical."]


# --- large bodies stay on the detail ----------------------------------------------------------------
def test_activity_list_carries_no_ebcl_source_and_the_detail_does(api, schema):
    source = "\n".join(["RULE po.approve WHEN amount > 1000"] * 2000)
    created = api.post(
        "/api/v1/activities", {"name": "po", "version": "1.0.0", "ebcl_source": source, "owner": "ops"}, format="json"
    )
    assert created.status_code == 201, created.content[:300]

    listed = api.get("/api/v1/activities").json()["results"]
    detail = api.get(f"/api/v1/activities/{created.json()['activity_id']}").json()

    assert listed and all("ebcl_source" not in row for row in listed)
    assert detail["ebcl_source"] == source
    page = schema["paths"]["/api/v1/activities"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    page_name = page["$ref"].rsplit("/", 1)[1]
    row_name = schema["components"]["schemas"][page_name]["properties"]["results"]["items"]["$ref"].rsplit("/", 1)[1]
    assert "ebcl_source" not in schema["components"]["schemas"][row_name]["properties"]


# --- the README documents every write endpoint's body ---------------------------------------------
def test_readme_links_the_request_body_of_every_write_endpoint_to_its_openapi_operation(schema):
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    listed = set(
        re.findall(r"^\| (POST|PUT|PATCH|DELETE) \| `([^`]+)` \| \[[^\]]+\]\([^)]*#/[^/]+/(\w+)\) \|$", readme, re.M)
    )
    wanted = {
        (method.upper(), path, operation["operationId"])
        for path, method, operation in _operations(schema, (*WRITE_METHODS, "delete"))
    }
    assert wanted - listed == set()
