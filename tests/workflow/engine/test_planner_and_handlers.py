"""The pure planner (no database) and the built-in handlers' own behaviour."""

import json

import httpx
import pytest

from workflow.automation.webhooks import verify
from workflow.engine import planner
from workflow.engine.handlers import ActivityContext, ActivityError, get
from workflow.engine.planner import Node


def _ctx(**kw):
    base = {
        "tenant_id": 1,
        "instance_id": 2,
        "activity_id": 3,
        "key": "k",
        "name": "K",
        "context": {},
        "parameters": {},
    }
    return ActivityContext(**{**base, **kw})


def test_effective_graph_adds_sequential_order_and_phase_barriers():
    nodes = [
        Node("a", 1, "sequential", 0),
        Node("b", 1, "sequential", 1),
        Node("x", 2, "parallel", 0),
        Node("y", 2, "parallel", 1),
        Node("z", 2, "parallel", 2, ["x", "y"]),
        Node("end", 3, "sequential", 0),
    ]
    upstream = planner.effective_graph(nodes)
    assert upstream == {"a": set(), "b": {"a"}, "x": {"b"}, "y": {"b"}, "z": {"x", "y"}, "end": {"z"}}
    assert planner.dependents_of(upstream)["b"] == ["x", "y"]


def test_backoff_follows_temporal_and_caps_at_maximum_interval():
    policy = {"initial_interval": 2, "backoff_coefficient": 3, "maximum_interval": 10}
    assert [planner.backoff_seconds(policy, failed_attempts=n) for n in (1, 2, 3)] == [2.0, 6.0, 10.0]


def test_total_timeout_stops_retrying():
    decision = planner.decide_failure(
        planner.RETRY_DEFAULTS, error_type="X", attempts=1, manual=False, elapsed=9, total_timeout=10
    )
    assert not decision.retry and "total timeout" in decision.reason


def test_manual_steps_are_never_retried_automatically():
    assert not planner.decide_failure({}, error_type="X", attempts=1, manual=True, elapsed=0, total_timeout=None).retry


def test_seed_timeout_table():
    assert planner.manual_due_hours("Approve Final Report", "approve_final_report") == 48
    assert planner.manual_due_hours("Review Samples", "review_samples") == 24
    assert planner.automated_timeout_seconds("AutomatedActivityHandler", "Start") == 60
    assert planner.automated_timeout_seconds("ExecuteTestsHandler", "Execute Tests") == 1800


def test_http_request_handler_signs_like_the_webhooks(monkeypatch):
    seen = {}

    def fake_post(url, *, content, headers, timeout):
        seen.update(url=url, content=content, headers=headers, timeout=timeout)
        return httpx.Response(200, json={"ok": True})

    monkeypatch.setattr(httpx, "post", fake_post)
    result = get("HttpRequestHandler").execute(
        _ctx(parameters={"url": "https://example.test/hook", "secret": "s3", "timeout_seconds": 4})
    )
    assert result == {"k_response": {"status_code": 200, "body": {"ok": True}}}
    assert seen["timeout"] == 4.0
    assert verify("s3", seen["headers"]["X-OCX-Timestamp"], seen["content"], seen["headers"]["X-OCX-Signature"])


def test_http_request_handler_types_client_errors(monkeypatch):
    monkeypatch.setattr(httpx, "post", lambda url, **kw: httpx.Response(404))
    with pytest.raises(ActivityError) as exc:
        get("HttpRequestHandler").execute(_ctx(parameters={"url": "https://example.test/x"}))
    assert exc.value.error_type == "HttpClientError"


def test_specialised_handlers_do_real_work_on_the_context():
    rows = [{"id": 1, "v": 5}, {"id": 2, "v": None}, {"id": 3, "v": 9}]
    attrs = get("GenerateAttributesHandler").execute(_ctx(context={"data_set": rows}))["attributes"]
    assert attrs == [{"name": "id", "type": "number"}, {"name": "v", "type": "number"}]
    profile = get("DataProfilingHandler").execute(_ctx(context={"data_set": rows, "attributes": attrs}))["profile"]
    assert profile["row_count"] == 3 and profile["attributes"]["v"] == {"nulls": 1, "distinct": 2, "min": 5, "max": 9}
    one = get("GenerateSamplesHandler").execute(_ctx(context={"data_set": rows, "sample_size": 2, "sample_seed": 7}))
    two = get("GenerateSamplesHandler").execute(_ctx(context={"data_set": rows, "sample_size": 2, "sample_seed": 7}))
    assert one == two and len(one["samples"]) == 2  # seeded: the same sample every time
    with pytest.raises(ActivityError):
        get("DataProfilingHandler").execute(_ctx(context={"data_set": "nope"}))
    assert json.dumps(profile)
