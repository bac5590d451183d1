"""The OpenAPI schema says what the server does (issue 11): envelopes, errors, strict bodies,
required parameters, bounds, JSON only, the SSE stream; and the server holds to it."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _op(schema, path, method):
    return schema["paths"][path][method]


def _json_schema(response):
    return response["content"]["application/json"]["schema"]


def test_paginated_lists_document_their_envelopes(schema):
    components = schema["components"]["schemas"]
    page = _json_schema(_op(schema, "/api/v1/activities", "get")["responses"]["200"])["$ref"].rsplit("/", 1)[1]
    assert {"count", "next", "previous", "results"} <= set(components[page]["properties"])
    limit = _json_schema(_op(schema, "/api/v1/workflow/tasks", "get")["responses"]["200"])["$ref"].rsplit("/", 1)[1]
    assert {"count", "next", "previous", "results", "count_exact"} <= set(components[limit]["properties"])
    keyset = _json_schema(_op(schema, "/api/v1/events", "get")["responses"]["200"])["$ref"].rsplit("/", 1)[1]
    assert {"results", "next_cursor", "has_more"} <= set(components[keyset]["properties"])


def test_every_operation_documents_its_errors_in_the_one_envelope(schema):
    # runs/ declares its own component of the same shape ("Error"); everything else shares ErrorEnvelope.
    envelopes = ({"$ref": "#/components/schemas/ErrorEnvelope"}, {"$ref": "#/components/schemas/Error"})
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert {"400", "401", "403"} <= set(responses), (method, path)
            if "{" in path:
                assert "404" in responses, (method, path)
            for code, response in responses.items():
                if code >= "400":
                    assert _json_schema(response) in envelopes, (method, path, code)
    assert "409" in _op(schema, "/api/v1/activities/{activity_id}", "patch")["responses"]
    assert "429" in _op(schema, "/api/v1/events", "post")["responses"]


def test_strict_bodies_refuse_extra_properties_and_only_json_is_advertised(schema):
    components = schema["components"]["schemas"]
    assert components["ActivityCreateInputRequest"]["additionalProperties"] is False
    assert components["TaskCreateInputRequest"]["additionalProperties"] is False
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if "requestBody" in operation:
                assert set(operation["requestBody"]["content"]) == {"application/json"}, (method, path)


def test_required_parameters_formats_and_bounds(schema):
    def param(path, method, name):
        return next(p for p in _op(schema, path, method)["parameters"] if p["name"] == name)

    assert param("/api/v1/activities/{activity_id}/approve", "post", "approval_id")["required"] is True
    assert param("/api/v1/activities/{activity_id}/rollback", "post", "deployment_id")["required"] is True
    assert param("/api/v1/activities", "get", "page")["schema"]["minimum"] == 1
    assert param("/api/v1/workflow/tasks", "get", "offset")["schema"]["minimum"] == 0
    assert param("/api/v1/activities/{activity_id}/executions", "get", "limit")["schema"]["maximum"] == 1000
    version = schema["components"]["schemas"]["ActivityCreateInputRequest"]["properties"]["version"]
    assert version["pattern"].startswith("^(0|[1-9]")


def test_the_event_stream_is_documented(schema):
    stream = _op(schema, "/api/v1/events/stream", "get")
    assert "text/event-stream" in stream["responses"]["200"]["content"]
    assert any(p["name"] == "Last-Event-ID" and p["in"] == "header" for p in stream["parameters"])


def test_missing_deployment_id_and_form_bodies_are_refused(admin_api):
    response = admin_api.post("/api/v1/activities/00000000-0000-0000-0000-000000000001/rollback", {}, format="json")
    assert response.status_code == 400
    assert response.json()["details"] == {"deployment_id": ["This field is required."]}

    response = admin_api.post("/api/v1/workflow/tasks", {"title": "form"}, format="multipart")
    assert response.status_code == 415 and response.json()["error_code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_nul_characters_are_a_400_not_a_database_error(admin_api):
    response = admin_api.get("/api/v1/activities?category=a%00b")
    assert response.status_code == 400 and response.json()["error_code"] == "VALIDATION_ERROR"

    response = admin_api.post("/api/v1/workflow/tasks", {"title": "t", "metadata": {"k": "a\x00b"}}, format="json")
    assert response.status_code == 400 and response.json()["error_code"] == "VALIDATION_ERROR"


def test_the_incident_overview_is_documented_as_the_object_it_answers(schema):
    components = schema["components"]["schemas"]
    response = _json_schema(_op(schema, "/api/v1/workflow/incidents", "get")["responses"]["200"])
    overview = components[response["$ref"].rsplit("/", 1)[1]]
    assert overview["type"] == "object" and set(overview["required"]) == {"groups", "incidents"}
    groups, incidents = overview["properties"]["groups"], overview["properties"]["incidents"]
    assert groups["type"] == "array" and groups["items"]["$ref"].endswith("/EngineIncidentGroupOutput")
    assert incidents["type"] == "array" and incidents["items"]["$ref"].endswith("/EngineIncidentOutput")


def test_generating_the_schema_emits_no_warning_and_names_the_status_enums(tmp_path):
    # drf-spectacular counts warnings process-wide: start from none, so only this run counts.
    GENERATOR_STATS.reset()
    target = tmp_path / "schema.yml"
    # --fail-on-warn raises on any warning or error (e.g. an enum name clash resolved by a hash).
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    assert not GENERATOR_STATS
    text = target.read_text()
    for component in ("ActivityStatusEnum:", "DeploymentStatusEnum:", "RunStatusEnum:", "EventPriorityEnum:"):
        assert f"\n    {component}\n" in text, component
