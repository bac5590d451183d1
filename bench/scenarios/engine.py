"""Workflow engine (issue 13, "Performance"), distributed mode (PostgreSQL + Redis + real Celery
worker processes), each figure side by side with its peer in the same run:

* the seed's 49-activity test-cycle template with **instant handlers**, one worker: total wall
  time ≤ 2 × a plain Celery canvas of the same shape on the same worker and broker, and < 5 s;
* 100 concurrent instances of it on 2 workers: every instance completes, 0 activities lost,
  0 run twice (every handler execution is counted in Redis, per instance and activity);
* the cost of one scheduling decision ("this attempt succeeded: what runs next?") with the
  49-activity template and with a generated 2,000-activity one: constant in the template's size.

Instant handlers: the bench loads the test-cycle definition as its own template with every
activity automated (``manual: false``; a person's step would wait for a person) and the same
handler names, and its workers (``celery -A bench.scenarios.engine``, see ``__getattr__``)
replace every registered handler by a no-op that only counts its execution (one Redis
``HINCRBY``). The canvas' tasks do the same ``HINCRBY``. Both run on a queue of their own
(``bench_engine``) that only the bench's workers consume; events the engine publishes are
dispatched by the harness' regular worker, as in production.

The canvas has the engine's execution shape: the effective graph of the test cycle is one
chain (its explicit edges all point at activities already done by then), and a fan-out activity
runs one task per item, all joined before the next step. So: ``chain`` of single tasks and of
``group``s (Celery turns a group followed by a step into a ``chord``), with ``k`` tasks per
group. It runs with ``k = 3`` (the template's default context: 35 + 14 × 3 = 77 tasks) and with
``k = 1`` (49 tasks, one per activity).

Run: ``make bench BENCH_ARGS="--only engine [--quick]"``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAME = "engine"
QUEUE = "bench_engine"
TEMPLATE_NAME = "Bench test cycle (instant handlers)"
BIG_TEMPLATE_NAME = "Bench generated 2000"
BIG_SIZE = 2_000
COUNT_KEY = "ocx:bench:engine:exec:{run}"
DONE_KEY = "ocx:bench:engine:done:{run}"
FAN_KEYS = ("data_owners", "documents", "test_executions")
TARGETS = {"ratio_to_canvas": 2.0, "wall_s": 5.0, "instances": 100, "decision_ratio_2000_to_49": 1.5}


# --- pure helpers (tests/bench) -------------------------------------------------------------
def instant_definition(definition: dict, *, name: str = TEMPLATE_NAME) -> dict:
    """The test-cycle definition with every activity automated, same handlers and graph."""
    out = json.loads(json.dumps(definition))
    out["name"] = name
    out["compensate_on_failure"] = False
    for phase in out["phases"]:
        for activity in phase["activities"]:
            activity["manual"] = False
    return out


def sized_context(definition: dict, items: int) -> dict:
    """The default context with ``items`` entries in every list a parallel phase fans out over."""
    context = json.loads(json.dumps(definition.get("default_context") or {}))
    for phase in definition["phases"]:
        key = phase.get("fan_out_over")
        if key:
            base = list(context.get(key) or [])
            context[key] = [base[i % len(base)] if base else f"item-{i}" for i in range(items)]
    return context


def _graph(definition: dict):
    from workflow.engine import planner

    nodes, fans = [], {}
    for phase in definition["phases"]:
        for position, a in enumerate(phase["activities"]):
            nodes.append(
                planner.Node(
                    key=a["key"], phase_order=phase["order"], phase_mode=phase.get("execution_mode", "sequential"),
                    position=position, depends_on=list(a.get("depends_on") or []),
                )
            )  # fmt: skip
            fans[a["key"]] = bool(phase.get("fan_out_over")) and a.get("execution_mode") == "parallel"
    return planner.effective_graph(nodes), fans


def canvas_steps(definition: dict, items: int) -> list[list[str]]:
    """The engine's execution shape as canvas steps: each step is the list of task keys that run
    together (one key: a single task; several: a group joined before the next step). Keys are the
    engine's ``instance_id``s (``key`` or ``key[i]`` for fan-out children). Raises ValueError if
    the effective graph is not a chain (then a plain canvas has no exact equivalent)."""
    upstream, fans = _graph(definition)
    done: set[str] = set()
    order: list[str] = []
    while len(order) < len(upstream):
        ready = sorted(k for k, deps in upstream.items() if k not in done and deps <= done)
        if len(ready) != 1:
            raise ValueError(f"not a chain: {ready} ready together")
        order.append(ready[0])
        done.add(ready[0])
    return [[f"{k}[{i}]" for i in range(items)] if fans[k] else [k] for k in order]


def execution_check(expected: set[str], counts: dict[str, int]) -> dict:
    """Lost (expected, never executed), doubled (executed more than once), unexpected keys."""
    return {
        "expected": len(expected),
        "executed": sum(counts.values()),
        "lost": sorted(expected - set(counts)),
        "doubled": sorted(k for k, n in counts.items() if n > 1),
        "unexpected": sorted(set(counts) - expected),
    }


def generated_definition(base: dict, size: int = BIG_SIZE, *, name: str = BIG_TEMPLATE_NAME) -> dict:
    """``size`` activities: the test cycle's phases repeated (keys suffixed ``_r<n>``, explicit
    edges kept inside each copy), then one sequential phase with the remainder. Its decisions are
    the same mix as the 49-activity template's (single steps, fan-outs, joins)."""
    src = instant_definition(base)
    per = sum(len(p["activities"]) for p in src["phases"])
    reps, rest = divmod(size, per)
    phases, order = [], 0
    for r in range(reps):
        for p in src["phases"]:
            order += 1
            acts = [
                {**a, "key": f"{a['key']}_r{r}", "depends_on": [f"{d}_r{r}" for d in a.get("depends_on") or []]}
                for a in p["activities"]
            ]
            phases.append({**p, "key": f"{p['key']}_r{r}", "order": order, "activities": acts})
    if rest:
        order += 1
        phases.append(
            {
                "key": "tail", "name": "Tail", "order": order, "execution_mode": "sequential",
                "activities": [
                    {"key": f"tail_{i}", "name": f"Tail {i}", "handler_name": "AutomatedActivityHandler",
                     "timeout_seconds": 60, "parameters": {"action": "START", "phase": "tail"}}
                    for i in range(rest)
                ],
            }
        )  # fmt: skip
    return {**src, "name": name, "phases": phases}


def summary(values: list[float]) -> dict:
    ordered = sorted(values)
    if not ordered:
        return {"n": 0}
    return {
        "n": len(ordered),
        "median": round(statistics.median(ordered), 3),
        "min": round(ordered[0], 3),
        "p90": round(ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))], 3),
        "max": round(ordered[-1], 3),
    }


# --- the bench worker (celery -A bench.scenarios.engine worker -Q bench_engine) -------------
def __getattr__(name: str):
    # ``celery -A bench.scenarios.engine`` looks up ``app``: configured only when a worker asks,
    # so importing this module (``make bench`` imports every scenario) changes nothing.
    if name == "app":
        return _worker_app()
    raise AttributeError(name)


_configured = []


def _redis():
    import redis

    return redis.Redis.from_url(os.environ["REDIS_URL"])


def _worker_app():
    from celery import signals

    from ocx.celery import app

    if _configured:
        return app
    # The canvas needs a result backend (chords count their members there); the engine does not.
    app.conf.update(result_backend=os.environ["REDIS_URL"], task_routes={"workflow.engine.*": {"queue": QUEUE}})

    @app.task(name="bench.engine.noop", ignore_result=False, acks_late=True)
    def noop(*, run: str, key: str) -> None:
        _redis().hincrby(COUNT_KEY.format(run=run), key, 1)

    @app.task(name="bench.engine.done", ignore_result=False)
    def done(*, run: str) -> None:
        _redis().rpush(DONE_KEY.format(run=run), repr(time.time()))

    def install(**kwargs):
        import django

        django.setup()
        from workflow.engine import handlers

        def instant(ctx):
            field = ctx.key if ctx.item_index is None else f"{ctx.key}[{ctx.item_index}]"
            _redis().hincrby(COUNT_KEY.format(run=ctx.instance_id), field, 1)
            return {}

        for handler_name in handlers.names():
            handlers.register(handlers.Handler(handler_name, instant, description="bench: instant no-op"))

    signals.worker_init.connect(install, weak=False)
    signals.worker_process_init.connect(install, weak=False)
    _configured.append(True)
    return app


def start_workers(env: dict, count: int, tag: str) -> list[subprocess.Popen]:
    celery = str(Path(sys.executable).parent / "celery")
    procs = []
    for n in range(count):
        cmd = [celery, "-A", "bench.scenarios.engine", "worker", "-Q", QUEUE, "--concurrency", "1",
               "-n", f"bench-engine-{tag}{n}@%h", "--without-gossip", "--without-mingle", "--loglevel", "WARNING"]  # fmt: skip
        procs.append(subprocess.Popen(cmd, cwd=ROOT, env={**env, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL))
    _wait_workers(env, count)
    return procs


def _wait_workers(env: dict, count: int, timeout: float = 90) -> None:
    """Until ``count`` bench workers answer a ping (so no run measures a worker's start-up)."""
    app = _sender(env)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=1.0) or []
        if sum(1 for r in replies for name in r if name.startswith("bench-engine-")) >= count:
            return
    raise RuntimeError("bench engine workers did not start")


def stop_workers(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


_senders: dict = {}


def _sender(env: dict):
    """A Celery app of this process for the canvas and control: same broker and backend as the
    bench workers (the project app here keeps its settings)."""
    if "app" not in _senders:
        from celery import Celery

        # Not the current app: the project's shared tasks (``run_activity``) must keep theirs.
        _senders["app"] = Celery(
            "bench-canvas", broker=env["REDIS_URL"], backend=env["REDIS_URL"], set_as_current=False
        )
    return _senders["app"]


# --- measurements ---------------------------------------------------------------------------
def _tenant():
    from ocx.core.models import Tenant

    return Tenant.objects.get(slug="acme-corp")


def _publish(definition: dict) -> int:
    from workflow.engine.services import template_create, template_publish

    tenant = _tenant()
    template = template_create(tenant=tenant, actor=None, definition=definition)
    template_publish(tenant=tenant, actor=None, template_id=template.pk)
    return template.pk


_BENCH_ROUTES = object()


def _route_engine_to_bench_queue(routes=_BENCH_ROUTES):
    """Engine attempts queued from this process go to the bench workers' queue (or, given the
    previous ``routes``, back where they went). Returns the routes it replaced."""
    from ocx.celery import app

    previous = app.conf.task_routes
    if routes is _BENCH_ROUTES:
        routes = {**dict(previous or {}), "workflow.engine.*": {"queue": QUEUE}}
    app.conf.task_routes = routes
    app.amqp.flush_routes()
    # The router is built once, from the routes of that moment (kombu cached_property).
    app.amqp.__dict__.pop("router", None)
    return previous


def _expected_leaves(instance_id: int) -> set[str]:
    from workflow.engine.models import ActivityInstance

    rows = ActivityInstance.objects.all_tenants().filter(workflow_id=instance_id)
    return {
        r["instance_id"]
        for r in rows.values("instance_id", "parent_activity_id", "execution_mode", "activity_template__phase__fan_out_over")
        if r["parent_activity_id"] is not None
        or not (r["execution_mode"] == "parallel" and r["activity_template__phase__fan_out_over"])
    }  # fmt: skip


def _counts(redis_client, run) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in redis_client.hgetall(COUNT_KEY.format(run=run)).items()}


def _wait_instances(ids: list[int], timeout: float) -> dict[int, tuple[str, object]]:
    from workflow.engine.models import WorkflowInstance

    deadline = time.monotonic() + timeout
    while True:
        rows = dict(
            (pk, (state, finished))
            for pk, state, finished in WorkflowInstance.objects.all_tenants()
            .filter(pk__in=ids)
            .values_list("pk", "state", "finished_at")
        )
        open_ = [pk for pk, (state, _) in rows.items() if state not in ("completed", "failed", "cancelled")]
        if not open_ or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)  # polling only detects the end; the time is the instance's finished_at


def run_engine_once(template_id: int, context: dict, redis_client) -> dict:
    from django.utils import timezone

    from workflow.engine.services import instance_start

    tenant = _tenant()
    started = timezone.now()
    inst = instance_start(tenant=tenant, actor=None, template_id=template_id, context=context)
    state, finished = _wait_instances([inst.pk], 120)[inst.pk]
    wall = (finished - started).total_seconds() if finished else None
    check = execution_check(_expected_leaves(inst.pk), _counts(redis_client, inst.pk))
    return {"instance": inst.pk, "state": state, "wall_s": round(wall, 3) if wall else None, **check}


def run_canvas_once(env: dict, steps: list[list[str]], redis_client) -> dict:
    import uuid

    from celery import chain, group

    app = _sender(env)
    run = f"canvas-{uuid.uuid4().hex[:12]}"

    def sig(name: str, **kwargs):
        return app.signature(name, kwargs=kwargs, immutable=True, queue=QUEUE)

    parts = [
        sig("bench.engine.noop", run=run, key=s[0]) if len(s) == 1 else group(sig("bench.engine.noop", run=run, key=k) for k in s)
        for s in steps
    ]  # fmt: skip
    canvas = chain(*parts, sig("bench.engine.done", run=run))
    started = time.time()
    canvas.apply_async()
    popped = redis_client.blpop(DONE_KEY.format(run=run), timeout=120)
    wall = float(popped[1]) - started if popped else None
    check = execution_check({k for s in steps for k in s}, _counts(redis_client, run))
    redis_client.delete(COUNT_KEY.format(run=run), DONE_KEY.format(run=run))
    return {"run": run, "wall_s": round(wall, 3) if wall else None, **check}


def settle(timeout: float = 60) -> dict:
    """Wait until the outbox holds no fresh work (rows never tried, or being processed), so each
    run starts from the same quiet state. Rows another component keeps failing (retried with
    backoff) are not waited for: they are counted and reported."""
    from django.db import connection

    deadline = time.monotonic() + timeout
    while True:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FILTER (WHERE status = 'processing' OR (status = 'pending' AND attempts = 0)), "
                "count(*) FILTER (WHERE status = 'pending' AND attempts > 0) FROM outbox_events "
                "WHERE status IN ('pending', 'processing')"
            )
            fresh, retrying = cursor.fetchone()
        if not fresh or time.monotonic() > deadline:
            return {"fresh_left": fresh, "retrying": retrying}
        time.sleep(0.2)


def side_by_side(ctx, template_id: int, definition: dict, items: int, rounds: int, redis_client) -> dict:
    steps = canvas_steps(definition, items)
    context = sized_context(definition, items)
    engine_runs, canvas_runs = [], []
    for r in range(rounds + 1):  # round 0 warms both up (imports, connections, plans)
        settle()
        e = run_engine_once(template_id, context, redis_client)
        settle()
        c = run_canvas_once(ctx.env, steps, redis_client)
        if r:
            engine_runs.append(e)
            canvas_runs.append(c)
    e_wall = [r["wall_s"] for r in engine_runs if r["wall_s"] is not None]
    c_wall = [r["wall_s"] for r in canvas_runs if r["wall_s"] is not None]
    ratio = round(statistics.median(e_wall) / statistics.median(c_wall), 2) if e_wall and c_wall else None
    ok = all(r["state"] == "completed" and not r["lost"] and not r["doubled"] for r in engine_runs)
    return {
        "items_per_fan_out": items,
        "tasks": sum(len(s) for s in steps),
        "engine_wall_s": summary(e_wall),
        "canvas_wall_s": summary(c_wall),
        "ratio_median": ratio,
        "all_completed_exactly_once": ok,
        "engine_runs": engine_runs,
        "canvas_runs": canvas_runs,
    }


def concurrent_instances(template_id: int, context: dict, count: int, redis_client) -> dict:
    from django.utils import timezone

    from workflow.engine.models import ActivityAttempt
    from workflow.engine.services import instance_start

    tenant = _tenant()
    started = timezone.now()
    ids = [instance_start(tenant=tenant, actor=None, template_id=template_id, context=context).pk for _ in range(count)]
    started_all = (timezone.now() - started).total_seconds()
    rows = _wait_instances(ids, 1800)
    finished = [f for _, f in rows.values() if f]
    lost, doubled, unexpected, executed, expected = 0, 0, 0, 0, 0
    for pk in ids:
        check = execution_check(_expected_leaves(pk), _counts(redis_client, pk))
        lost += len(check["lost"])
        doubled += len(check["doubled"])
        unexpected += len(check["unexpected"])
        executed += check["executed"]
        expected += check["expected"]
    attempts = ActivityAttempt.objects.all_tenants().filter(activity__workflow_id__in=ids).count()
    states: dict[str, int] = {}
    for state, _ in rows.values():
        states[state] = states.get(state, 0) + 1
    wall = (max(finished) - started).total_seconds() if finished else None
    return {
        "instances": count,
        "states": states,
        "expected_executions": expected,
        "handler_executions": executed,
        "attempts_recorded": attempts,
        "lost": lost,
        "doubled": doubled,
        "unexpected": unexpected,
        "started_all_in_s": round(started_all, 2),
        "wall_s": round(wall, 2) if wall else None,
        "activities_per_s": round(executed / wall, 1) if wall else None,
        "ok": states.get("completed", 0) == count and lost == 0 and doubled == 0 and unexpected == 0,
    }


def decision_cost(template_id: int, context: dict, decisions: int) -> dict:
    """Drive one instance in this process (no Celery: sends are collected) and time each
    ``activity_succeed`` — lock, record, decide what runs next, queue it — with its SQL count."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from workflow.engine.services import activity_begin, activity_succeed, instance_cancel, instance_start, runtime

    collected: list[tuple] = []
    original = runtime.send_activities
    runtime.send_activities = collected.extend
    try:
        t0 = time.perf_counter()
        inst = instance_start(tenant=_tenant(), actor=None, template_id=template_id, context=context)
        start_s = time.perf_counter() - t0
        times, queries = [], []
        while collected and len(times) < decisions:
            activity_id, attempt, _countdown, _timeout = collected.pop(0)
            if activity_begin(activity_id=activity_id, attempt=attempt) is None:
                continue
            with CaptureQueriesContext(connection) as captured:
                t0 = time.perf_counter()
                activity_succeed(activity_id=activity_id, attempt=attempt, output={})
                times.append((time.perf_counter() - t0) * 1000)
            queries.append(len(captured.captured_queries))
        from workflow.engine.models import ActivityInstance

        activities = ActivityInstance.objects.all_tenants().filter(workflow=inst).count()
        # Left half-way on purpose: cancel it, so no sweep re-dispatches it to a real worker later.
        inst.refresh_from_db(fields=["state"])
        if inst.state == "running":
            instance_cancel(tenant=_tenant(), actor=None, instance_id=inst.pk, reason="bench: decisions measured")
    finally:
        runtime.send_activities = original
    return {
        "instance": inst.pk,
        "activity_rows": activities,
        "instance_start_ms": round(start_s * 1000, 1),
        "decision_ms": summary(times),
        "queries": summary(queries),
    }


def run(ctx) -> dict:
    import redis

    from workflow.engine.data import TEST_CYCLE

    redis_client = redis.Redis.from_url(ctx.env["REDIS_URL"])
    base = json.loads(Path(TEST_CYCLE).read_text())
    definition = instant_definition(base)
    template_id = _publish(definition)
    big_id = _publish(generated_definition(base, BIG_SIZE))
    previous_routes = _route_engine_to_bench_queue()
    try:
        return _measure(ctx, redis_client, definition, template_id, big_id)
    finally:
        _route_engine_to_bench_queue(previous_routes)


def _measure(ctx, redis_client, definition: dict, template_id: int, big_id: int) -> dict:
    rounds = 2 if ctx.quick else 3
    count = 20 if ctx.quick else TARGETS["instances"]
    load_before = os.getloadavg()

    workers = start_workers(ctx.env, 1, "a")
    try:
        wide = side_by_side(ctx, template_id, definition, 3, rounds, redis_client)
        narrow = side_by_side(ctx, template_id, definition, 1, rounds, redis_client)
    finally:
        stop_workers(workers)
    for label, r in (("k=3", wide), ("k=1", narrow)):
        print(f"  49 activities ({r['tasks']} tasks, {label}), 1 worker: engine median {r['engine_wall_s']['median']} s, "
              f"canvas median {r['canvas_wall_s']['median']} s, ratio {r['ratio_median']}; "
              f"exactly once: {r['all_completed_exactly_once']}")  # fmt: skip

    settle()
    workers = start_workers(ctx.env, 2, "b")
    try:
        concurrent = concurrent_instances(template_id, sized_context(definition, 3), count, redis_client)
    finally:
        stop_workers(workers)
    print(f"  {count} concurrent instances, 2 workers: {concurrent['states']} in {concurrent['wall_s']} s, "
          f"{concurrent['handler_executions']} executions of {concurrent['expected_executions']} expected, "
          f"lost {concurrent['lost']}, doubled {concurrent['doubled']}")  # fmt: skip

    outbox = settle()
    n = 60 if ctx.quick else 200
    small = decision_cost(template_id, sized_context(definition, 3), n)
    big = decision_cost(big_id, sized_context(definition, 3), n)
    decision_ratio = round(big["decision_ms"]["median"] / small["decision_ms"]["median"], 2)
    print(f"  one scheduling decision: 49 activities median {small['decision_ms']['median']} ms "
          f"({small['queries']['median']} queries), 2,000 activities median {big['decision_ms']['median']} ms "
          f"({big['queries']['median']} queries): ratio {decision_ratio}")  # fmt: skip
    met = {
        "ratio_to_canvas_k3": wide["ratio_median"] is not None and wide["ratio_median"] <= TARGETS["ratio_to_canvas"],
        "ratio_to_canvas_k1": narrow["ratio_median"] is not None and narrow["ratio_median"] <= TARGETS["ratio_to_canvas"],
        "under_5_s": bool(wide["engine_wall_s"].get("median")) and wide["engine_wall_s"]["median"] < TARGETS["wall_s"],
        "exactly_once_single": wide["all_completed_exactly_once"] and narrow["all_completed_exactly_once"],
        "concurrent_all_complete_exactly_once": concurrent["ok"],
        "decision_constant": decision_ratio <= TARGETS["decision_ratio_2000_to_49"]
        and big["queries"]["max"] <= small["queries"]["max"],
    }  # fmt: skip
    print(f"  targets met: {met}")
    return {
        "ok": all(met.values()),
        "targets": TARGETS,
        "met": met,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "single_instance_k3": wide,
        "single_instance_k1": narrow,
        "concurrent": concurrent,
        "decision_49": small,
        "decision_2000": big,
        "decision_ratio_2000_to_49": decision_ratio,
        "outbox_rows_retrying_elsewhere": outbox["retrying"],
    }
