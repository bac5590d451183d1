"""Integers from paths, query strings and bodies never reach the database out of range.

SQLite's driver raises OverflowError past a signed 64-bit value and PostgreSQL DataError
("bigint out of range"): both used to be an HTML 500. A query or body parameter out of range is
now a 400 ``VALIDATION_ERROR`` naming it; an id in a path that no row can have is a 404, like
any other unknown id (``…/tasks/abc``).
"""

from __future__ import annotations

import base64
import json
import time

import pytest

from ocx.core import errors
from ocx.core.api.params import INT64_MAX, INT64_MIN, parse_int

pytestmark = pytest.mark.django_db

BIG = "99999999999999999999"  # 20 digits: past any 64-bit integer
INT64_OVER = str(INT64_MAX + 1)


def _cursor(pk: str) -> str:
    return base64.urlsafe_b64encode(f"2026-01-01T00:00:00+00:00|{pk}".encode()).decode().rstrip("=")


QUERY_PARAMS = [
    ("/api/v1/workflow/tasks", "action_plan_id", INT64_OVER),
    ("/api/v1/workflow/tasks", "action_plan_id", "abc"),
    ("/api/v1/workflow/tasks", "offset", str(INT64_MAX)),
    ("/api/v1/workflow/tasks", "offset", "-1"),
    ("/api/v1/workflow/tasks", "limit", BIG),
    ("/api/v1/workflow/tasks", "limit", "1_0"),
    ("/api/v1/workflow/action-plans", "offset", BIG),
    ("/api/v1/activities", "page", BIG),
    ("/api/v1/activities", "page_size", BIG),
    ("/api/v1/approvals/pending", "page", INT64_OVER),
    ("/api/v1/events", "page", "1000000000000000000"),
    ("/api/v1/events", "page", BIG),
    ("/api/v1/events", "page_size", BIG),
    ("/api/v1/events", "pageSize", "0"),
    ("/api/v1/events/stats", "days", BIG),
]


@pytest.mark.parametrize(("path", "name", "value"), QUERY_PARAMS, ids=[f"{p}?{n}={v}" for p, n, v in QUERY_PARAMS])
def test_out_of_range_query_integer_is_a_400_naming_it(admin_api, path, name, value):
    response = admin_api.get(path, {name: value})

    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert (body["success"], body["error_code"]) == (False, "VALIDATION_ERROR")
    shown = name if name != "pageSize" else "page_size"
    assert shown in body["message"] and shown in body["details"]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/events", {"cursor": _cursor(BIG)}),
        ("/api/v1/events", {"start_date": "2024-13-45"}),
        ("/api/v1/events", {"end_date": "9999-12-31T23:59:59-05:00"}),
    ],
)
def test_other_out_of_range_query_values_are_a_400(admin_api, path, params):
    response = admin_api.get(path, params)

    assert response.status_code == 400, response.content[:300]
    assert response.json()["error_code"] == "VALIDATION_ERROR"


@pytest.mark.django_db(transaction=True)  # the async SSE view (outside DRF) reads from another thread
@pytest.mark.parametrize("params", [{"last_event_id": BIG}, {"cursor": "-1"}, {"start_date": "2024-02-30"}])
def test_out_of_range_stream_parameters_are_a_400(admin_api, params):
    response = admin_api.get("/api/v1/events/stream", params)

    assert response.status_code == 400, response.content[:300]
    assert response.json()["error_code"] == "VALIDATION_ERROR"


def test_a_page_past_the_last_stays_not_found(admin_api):
    response = admin_api.get("/api/v1/activities", {"page": "1000000000000000000"})

    assert response.status_code == 404
    assert response.json()["error_code"] == "NOT_FOUND"


PATH_IDS = [
    "/api/v1/workflow/tasks/{}",
    "/api/v1/workflow/action-plans/{}",
    "/api/v1/workflow/sla-configs/{}",
    "/api/v1/events/{}",
    "/api/v1/activities/{}",
]


@pytest.mark.parametrize("template", PATH_IDS)
@pytest.mark.parametrize("value", [BIG, INT64_OVER, "-1", "abc"])
def test_an_id_no_row_can_have_is_not_found(admin_api, template, value):
    response = admin_api.get(template.format(value))

    assert response.status_code == 404, response.content[:300]
    assert response.json()["error_code"] == "NOT_FOUND"


BODIES = [
    ("post", "/api/v1/events/read-all", {"up_to_id": int(BIG)}, 400, "up_to_id"),
    ("post", "/api/v1/workflow/tasks", {"title": "x", "action_plan_id": int(BIG)}, 400, "action_plan_id"),
    ("post", "/api/v1/workflow/sla-configs", {"service_area": "a", "task_type": "b", "target_minutes": 2**31}, 400,
     "target_minutes"),
    ("patch", f"/api/v1/workflow/sla-configs/{BIG}", {"target_minutes": 5}, 404, None),
    ("post", f"/api/v1/workflow/tasks/{BIG}/transition", {"target_state": "in_progress"}, 404, None),
    ("post", f"/api/v1/workflow/action-plans/{BIG}/activate", {}, 404, None),
    ("post", f"/api/v1/events/{BIG}/read", {}, 404, None),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "body", "status", "field"), BODIES, ids=[f"{m} {p}" for m, p, *_ in BODIES])
def test_out_of_range_body_integer_is_refused(admin_api, method, path, body, status, field):
    response = getattr(admin_api, method)(path, body, format="json")

    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert body["success"] is False
    if field:
        assert body["error_code"] == "VALIDATION_ERROR" and field in body["details"]


@pytest.mark.parametrize("occurred_at", [10**20, 1e300, -(10**20)])
def test_hubspot_timestamp_out_of_range_is_a_malformed_payload(client, tenant, occurred_at):
    from activity_feed.ingest.signatures import hubspot_v3_sign
    from tests.activity_feed.factories import IngestionSourceFactory

    source = IngestionSourceFactory(tenant=tenant, kind="hubspot", name="hubspot", secret="s3cret")
    body = json.dumps(
        [{"eventId": 1, "subscriptionType": "contact.creation", "occurredAt": occurred_at, "objectId": 1}]
    ).encode()
    stamp = str(int(time.time() * 1000))
    uri = f"http://testserver/api/v1/ingest/hubspot?source={source.key}"
    signature = hubspot_v3_sign(secret="s3cret", method="POST", uri=uri, body=body, timestamp=stamp)

    response = client.post(
        f"/api/v1/ingest/hubspot?source={source.key}",
        data=body,
        content_type="application/json",
        headers={"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": stamp},
    )

    assert response.status_code == 400, response.content[:300]
    assert response.json()["error_code"] == "MALFORMED_PAYLOAD"


# --- the parser itself ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", 0), ("+7", 7), ("-7", -7), (str(INT64_MAX), INT64_MAX), (str(INT64_MIN), INT64_MIN), (12, 12), (None, None),
     ("", None)],
)  # fmt: skip
def test_parse_int_accepts_whole_numbers_in_the_64_bit_range(value, expected):
    assert parse_int(value, name="n") == expected


@pytest.mark.parametrize(
    "value", [INT64_OVER, str(INT64_MIN - 1), "1_000", " 1", "1.5", "1e3", "١٢", "0x10", True, 1.0, [], BIG * 100]
)
def test_parse_int_refuses_anything_else_naming_the_parameter(value):
    with pytest.raises(errors.ValidationError) as caught:
        parse_int(value, name="offset")

    assert "offset" in caught.value.message
    assert caught.value.details["offset"] == [caught.value.message]
    assert f"from {INT64_MIN} to {INT64_MAX}" in caught.value.message


def test_parse_int_applies_the_given_bounds_and_default():
    assert parse_int(None, name="page", minimum=1, default=1) == 1
    with pytest.raises(errors.ValidationError, match="page must be at least 1"):
        parse_int("0", name="page", minimum=1)
    with pytest.raises(errors.ValidationError, match="limit must be at most 100"):
        parse_int("101", name="limit", maximum=100)


def test_an_impossible_date_time_is_a_400_naming_the_parameter_not_a_server_error():
    from ocx.core.api.params import parse_datetime_param

    # Django's parser raises ValueError on a well-formed impossible value (month 13)
    for value in ("2026-13-01T00:00:00Z", "yesterday"):
        with pytest.raises(errors.ValidationError) as caught:
            parse_datetime_param(value, name="created_after")
        assert caught.value.message == "created_after must be an ISO 8601 date-time."
    assert parse_datetime_param("", name="created_after") is None
    assert parse_datetime_param("2026-12-01T10:00:00Z", name="created_after").year == 2026
