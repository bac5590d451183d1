"""The benchmark scenarios import (``make bench`` loads every one) and their pure helpers work."""

from __future__ import annotations

import importlib
import json
import pkgutil
from pathlib import Path

import pytest

import bench.scenarios as scenarios_pkg
from bench.scenarios import engine, soak
from workflow.engine.data import TEST_CYCLE


@pytest.fixture(scope="module")
def test_cycle() -> dict:
    return json.loads(Path(TEST_CYCLE).read_text())


def test_every_scenario_module_imports_and_names_itself():
    names = [
        importlib.import_module(f"bench.scenarios.{m.name}").NAME for m in pkgutil.iter_modules(scenarios_pkg.__path__)
    ]

    assert {"engine", "soak"} <= set(names)
    assert len(names) == len(set(names))


def test_importing_the_engine_scenario_configures_no_worker():
    # ``celery -A bench.scenarios.engine`` asks for ``app``; a plain import must not touch Celery.
    assert engine._configured == []
    with pytest.raises(AttributeError):
        engine.not_an_attribute  # noqa: B018


def test_instant_definition_automates_every_activity_and_keeps_handlers(test_cycle):
    instant = engine.instant_definition(test_cycle)

    activities = [a for p in instant["phases"] for a in p["activities"]]
    originals = [a for p in test_cycle["phases"] for a in p["activities"]]
    assert len(activities) == 49
    assert not any(a["manual"] for a in activities)
    assert [a["handler_name"] for a in activities] == [a["handler_name"] for a in originals]
    assert any(a.get("manual") for a in originals)  # the source is untouched


def test_canvas_steps_follow_the_engine_shape_with_one_group_per_fan_out(test_cycle):
    steps = engine.canvas_steps(test_cycle, 3)

    assert len(steps) == 49
    assert sum(len(s) for s in steps) == 35 + 14 * 3
    assert steps[0] == ["planning_start"]
    assert ["send_data_request[0]", "send_data_request[1]", "send_data_request[2]"] in steps
    assert steps.index(["rfi_start"]) + 1 == steps.index(
        ["send_data_request[0]", "send_data_request[1]", "send_data_request[2]"]
    )
    assert sum(len(s) for s in engine.canvas_steps(test_cycle, 1)) == 49


def test_canvas_steps_refuse_a_graph_that_is_not_a_chain():
    definition = {
        "phases": [
            {"key": "p", "order": 1, "execution_mode": "parallel", "fan_out_over": "xs",
             "activities": [{"key": "a", "execution_mode": "parallel"}, {"key": "b", "execution_mode": "parallel"}]}
        ]
    }  # fmt: skip

    with pytest.raises(ValueError, match="not a chain"):
        engine.canvas_steps(definition, 2)


def test_sized_context_resizes_every_fan_out_list(test_cycle):
    context = engine.sized_context(test_cycle, 5)

    for key in ("data_owners", "documents", "test_executions"):
        assert len(context[key]) == 5
    assert context["data_set"] == test_cycle["default_context"]["data_set"]


def test_generated_definition_has_the_asked_size_and_is_a_valid_template(test_cycle):
    from workflow.engine.services import validate_definition

    generated = engine.generated_definition(test_cycle, 2_000)

    keys = [a["key"] for p in generated["phases"] for a in p["activities"]]
    assert len(keys) == 2_000 == len(set(keys))
    validate_definition(generated)  # raises on an unknown handler, a cycle, a bad dependency


def test_execution_check_names_lost_doubled_and_unexpected_keys():
    check = engine.execution_check({"a", "b", "c"}, {"a": 1, "b": 2, "x": 1})

    assert check["lost"] == ["c"]
    assert check["doubled"] == ["b"]
    assert check["unexpected"] == ["x"]
    assert check["executed"] == 4


def test_summary_of_values():
    assert engine.summary([3.0, 1.0, 2.0]) == {"n": 3, "median": 2.0, "min": 1.0, "p90": 3.0, "max": 3.0}
    assert engine.summary([]) == {"n": 0}


def test_proc_parsers_read_rss_and_parent_even_with_parens_in_the_command():
    status = "Name:\tcelery\nVmPeak:\t  300 kB\nVmRSS:\t  204800 kB\nThreads:\t3\n"
    stat = "4242 (celery (worker) 1) S 4200 4242 4242 0 -1 4194560"

    assert soak.parse_rss_kb(status) == 204800
    assert soak.parse_rss_kb("Name:\tzombie\n") == 0
    assert soak.parse_ppid(stat) == 4200


def test_descendants_walks_the_whole_tree():
    parents = {10: 1, 11: 10, 12: 10, 13: 11, 20: 1}

    assert soak.descendants(10, parents) == [10, 11, 12, 13]


def test_rss_verdict_fails_growth_past_the_tolerance_after_warm_up():
    flat = [(0, 50), (30, 100), (40, 104), (50, 109)]
    growing = [(0, 100), (30, 100), (40, 105), (50, 111)]

    assert soak.rss_verdict(flat, warmup_s=30)["ok"] is True  # the warm-up sample does not count
    assert soak.rss_verdict(growing, warmup_s=30)["ok"] is False
    assert soak.rss_verdict([(40, 100)], warmup_s=30)["ok"] is False  # too few samples to judge


def test_connections_verdict_fails_when_the_second_half_exceeds_the_first():
    steady = [(0, 20), (30, 12), (40, 13), (50, 13), (60, 12)]
    leaking = [(30, 12), (40, 12), (50, 14), (60, 16)]

    assert soak.connections_verdict(steady, warmup_s=30)["ok"] is True
    assert soak.connections_verdict(leaking, warmup_s=30)["ok"] is False


def test_warmup_is_a_fifth_of_a_long_run_and_at_least_30_s():
    assert soak.warmup_seconds(600) == 120
    assert soak.warmup_seconds(120) == 30
    assert soak.warmup_seconds(30) == 10


def test_engine_attempts_route_to_the_bench_queue_and_back_even_with_a_router_built():
    from ocx.celery import app

    app.amqp.router  # noqa: B018 - built already, as after any earlier send in ``make bench``
    previous = engine._route_engine_to_bench_queue()
    try:
        routed = app.amqp.router.route({}, "workflow.engine.run_activity")["queue"].name
    finally:
        engine._route_engine_to_bench_queue(previous)

    assert routed == engine.QUEUE
    assert app.amqp.router.route({}, "workflow.engine.run_activity")["queue"].name != engine.QUEUE


def test_the_canvas_sender_app_does_not_become_the_current_app():
    from celery import current_app

    before = current_app._get_current_object()
    engine._senders.clear()
    engine._sender({"REDIS_URL": "redis://127.0.0.1:6379/15"})

    assert current_app._get_current_object() is before
    engine._senders.clear()
