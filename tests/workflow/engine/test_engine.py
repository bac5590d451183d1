import pytest

from activity_feed.models import ActivityEvent
from tests.workflow.engine.factories import activity, acts, definition, fast, phase, published
from workflow.engine import services
from workflow.engine.models import ActivityAttempt, ActivityState, Incident, InstanceState, WorkflowInstance

pytestmark = pytest.mark.django_db


def _start(run, tenant, actor, data, **kw):
    template = published(tenant, actor, data)
    inst = run(services.instance_start, tenant=tenant, actor=actor, template_id=template.pk, **kw)
    inst.refresh_from_db()
    return inst


def test_sequential_phases_run_in_order_and_complete(run, tenant, admin_user, recorder):
    data = definition(phase("one", 1, activity("a"), activity("b")), phase("two", 2, activity("c")))
    inst = _start(run, tenant, admin_user, data)
    assert inst.state == InstanceState.COMPLETED
    assert [c[0] for c in recorder.calls] == ["a", "b", "c"]
    rows = acts(inst)
    assert [rows[k].completion_order for k in "abc"] == [1, 2, 3]
    assert inst.context["c_done"] is True
    types = set(ActivityEvent.objects.for_tenant(tenant).values_list("type", flat=True))
    assert {
        "workflow.instance.started",
        "workflow.activity.started",
        "workflow.activity.completed",
        "workflow.instance.completed",
    } <= types


def test_parallel_phase_fans_out_per_item_and_joins_once(run, tenant, admin_user, recorder):
    data = definition(
        phase("prep", 1, activity("prep")),
        phase(
            "fan",
            2,
            activity("per_item", execution_mode="parallel"),
            mode="parallel",
            fan_out_over="owners",
            max_concurrency=2,
        ),
        phase("after", 3, activity("after")),
    )
    inst = _start(run, tenant, admin_user, data, context={"owners": ["x", "y", "z"]})
    assert inst.state == InstanceState.COMPLETED
    rows = acts(inst)
    parent = rows["per_item"]
    assert (parent.children_total, parent.children_done) == (3, 3)
    assert {rows[f"per_item[{i}]"].parent_activity_id for i in range(3)} == {parent.pk}
    assert [c[1] for c in recorder.ran("per_item")] == ["x", "y", "z"]
    assert inst.context["per_item"] == [{"item": i, "by": "per_item"} for i in "xyz"]
    assert len(recorder.ran("after")) == 1


def test_max_concurrency_limits_the_children_queued_at_once(
    tenant, admin_user, recorder, sent, django_capture_on_commit_callbacks
):
    data = definition(
        phase("fan", 1, activity("p", execution_mode="parallel"), mode="parallel", fan_out_over="xs", max_concurrency=2)
    )
    template = published(tenant, admin_user, data)
    with django_capture_on_commit_callbacks(execute=True):
        inst = services.instance_start(
            tenant=tenant, actor=admin_user, template_id=template.pk, context={"xs": [1, 2, 3, 4]}
        )
    assert len(sent) == 2
    # one child finishes: exactly one more is queued
    with django_capture_on_commit_callbacks(execute=True):
        services.execute_activity(activity_id=sent[0][0], attempt=1)
    assert len(sent) == 3
    assert acts(inst)["p[3]"].state == ActivityState.PENDING


def test_list_given_at_start_wins_over_one_an_activity_writes(run, tenant, admin_user, recorder):
    data = definition(
        phase("find", 1, activity("find", parameters={"writes": {"owners": ["written"]}})),
        phase("fan", 2, activity("per", execution_mode="parallel"), mode="parallel", fan_out_over="owners"),
    )
    given = _start(run, tenant, admin_user, data, context={"owners": ["given-1", "given-2"]})
    assert [r["item"] for r in given.context["per"]] == ["given-1", "given-2"]
    data["name"] = "t2"
    written = _start(run, tenant, admin_user, data)
    assert [r["item"] for r in written.context["per"]] == ["written"]


def test_false_condition_skips_and_counts_as_done(run, tenant, admin_user, recorder):
    data = definition(
        phase("p", 1, activity("a"), activity("maybe", conditional_expression="risk == 'high'"), activity("b"))
    )
    inst = _start(run, tenant, admin_user, data, context={"risk": "low"})
    rows = acts(inst)
    assert rows["maybe"].state == ActivityState.SKIPPED and rows["maybe"].skip_reason == "condition false"
    assert inst.state == InstanceState.COMPLETED and len(recorder.ran("b")) == 1
    assert recorder.ran("maybe") == []


def test_retries_use_exponential_backoff_countdowns(
    tenant, admin_user, recorder, sent, clock, django_capture_on_commit_callbacks
):
    recorder.failures["a"] = 2
    data = definition(phase("p", 1, activity("a", retry_policy=fast(initial_interval=3, backoff_coefficient=2))))
    template = published(tenant, admin_user, data)
    with django_capture_on_commit_callbacks(execute=True):
        inst = services.instance_start(tenant=tenant, actor=admin_user, template_id=template.pk)
    for expected_attempt in (1, 2, 3):
        activity_id, attempt, _countdown, _ = sent[-1]
        assert attempt == expected_attempt
        with django_capture_on_commit_callbacks(execute=True):
            services.execute_activity(activity_id=activity_id, attempt=attempt)
    assert [c[2] for c in sent] == [None, 3.0, 6.0]
    assert sent[0][3]["soft_time_limit"] == 300  # the Celery time limit is the attempt timeout
    inst.refresh_from_db()
    row = acts(inst)["a"]
    assert (inst.state, row.retry_count, row.last_error) == (InstanceState.COMPLETED, 3, "a failed")
    assert list(ActivityAttempt.objects.for_tenant(tenant).filter(activity=row).values_list("outcome", flat=True)) == [
        "failed",
        "failed",
        "completed",
    ]


def test_non_retryable_error_fails_at_once_with_an_incident(run, tenant, admin_user, recorder):
    recorder.failures["a"], recorder.error_type["a"] = 5, "BadInput"
    data = definition(
        phase("p", 1, activity("a", retry_policy=fast(non_retryable_error_types=["BadInput"])), activity("b"))
    )
    inst = _start(run, tenant, admin_user, data)
    assert inst.state == InstanceState.FAILED
    incident = Incident.objects.for_tenant(tenant).get(workflow=inst)
    assert (incident.error_type, incident.attempts, incident.message) == ("BadInput", 1, "a failed")
    assert acts(inst)["b"].state == ActivityState.PENDING


def test_exhausted_attempts_raise_an_incident_and_fail_the_instance(run, tenant, admin_user, recorder):
    recorder.failures["a"] = 10
    inst = _start(
        run, tenant, admin_user, definition(phase("p", 1, activity("a", retry_policy=fast(maximum_attempts=3))))
    )
    assert inst.state == InstanceState.FAILED
    assert Incident.objects.for_tenant(tenant).get(workflow=inst).attempts == 3
    assert len(recorder.ran("a")) == 3
    assert ActivityEvent.objects.for_tenant(tenant).filter(type="workflow.incident.raised").count() == 1


def test_attempt_past_its_deadline_times_out_and_is_retried_by_the_sweep(
    tenant, admin_user, recorder, sent, clock, django_capture_on_commit_callbacks
):
    data = definition(phase("p", 1, activity("a", timeout_seconds=30, retry_policy=fast())))
    template = published(tenant, admin_user, data)
    with django_capture_on_commit_callbacks(execute=True):
        inst = services.instance_start(tenant=tenant, actor=admin_user, template_id=template.pk)
    activity_id = sent[0][0]
    # a worker claims the attempt and dies (never reports)
    assert services.activity_begin(activity_id=activity_id, attempt=1) is not None
    clock.advance(31)
    with django_capture_on_commit_callbacks(execute=True):
        result = services.sweep()
    assert result["timed_out"] == 1
    row = acts(inst)["a"]
    assert (row.state, row.last_error_type, row.retry_count) == (ActivityState.SCHEDULED, "ActivityTimeout", 1)
    assert sent[-1][:3] == (activity_id, 2, 1.0)
    # the dead worker's late report is ignored
    assert services.activity_succeed(activity_id=activity_id, attempt=1, output={}) is False


def test_lost_message_is_redispatched_once_by_the_sweep(
    tenant, admin_user, recorder, sent, clock, django_capture_on_commit_callbacks
):
    template = published(tenant, admin_user, definition(phase("p", 1, activity("a"))))
    with django_capture_on_commit_callbacks(execute=True):
        services.instance_start(tenant=tenant, actor=admin_user, template_id=template.pk)
    clock.advance(61)
    assert services.sweep()["redispatched"] == 1
    assert services.sweep()["redispatched"] == 0  # the claim moved the deadline
    assert len(sent) == 2 and sent[1][:2] == sent[0][:2]


def test_duplicated_delivery_runs_the_handler_once(
    tenant, admin_user, recorder, sent, django_capture_on_commit_callbacks
):
    template = published(tenant, admin_user, definition(phase("p", 1, activity("a"))))
    with django_capture_on_commit_callbacks(execute=True):
        services.instance_start(tenant=tenant, actor=admin_user, template_id=template.pk)
    activity_id = sent[0][0]
    assert services.execute_activity(activity_id=activity_id, attempt=1) == "completed"
    assert services.execute_activity(activity_id=activity_id, attempt=1) == "duplicate"
    assert len(recorder.ran("a")) == 1


def test_retry_from_failure_reruns_only_failed_branches(run, tenant, admin_user, recorder):
    recorder.failures["bad"], recorder.error_type["bad"] = 1, "Fatal"
    data = definition(
        phase("one", 1, activity("first")),
        phase(
            "fan",
            2,
            activity("per", execution_mode="parallel", retry_policy=fast(non_retryable_error_types=["Fatal"])),
            mode="parallel",
            fan_out_over="xs",
        ),
        phase("two", 2 + 1, activity("last")),
    )
    inst = _start(run, tenant, admin_user, data, context={"xs": ["ok1", "bad", "ok2"]})
    assert inst.state == InstanceState.FAILED
    assert acts(inst)["per"].state == ActivityState.FAILED
    inst = run(services.instance_retry, tenant=tenant, actor=admin_user, instance_id=inst.pk)
    inst.refresh_from_db()
    assert inst.state == InstanceState.COMPLETED
    assert [c[1] for c in recorder.ran("per")] == ["ok1", "bad", "ok2", "bad"]
    assert len(recorder.ran("first")) == 1 and len(recorder.ran("last")) == 1
    incident = Incident.objects.for_tenant(tenant).get(workflow=inst)
    assert (incident.resolution, incident.resolved_by) == ("retried", admin_user)


def test_skip_a_failed_activity_with_a_reason_moves_on(run, tenant, admin_user, recorder):
    recorder.failures["a"] = 9
    inst = _start(
        run,
        tenant,
        admin_user,
        definition(phase("p", 1, activity("a", retry_policy=fast(maximum_attempts=1)), activity("b"))),
    )
    failed = acts(inst)["a"]
    run(
        services.activity_skip,
        tenant=tenant,
        actor=admin_user,
        instance_id=inst.pk,
        activity_id=failed.pk,
        reason="not needed",
    )
    inst.refresh_from_db()
    assert inst.state == InstanceState.COMPLETED
    assert acts(inst)["a"].skip_reason == "not needed"
    assert acts(inst)["a"].history.first().history_user == admin_user


def test_cancel_cancels_open_activities_and_their_tasks(run, tenant, admin_user, recorder):
    data = definition(
        phase("p", 1, activity("a"), activity("approve", handler="ManualActivityHandler", manual=True), activity("b"))
    )
    inst = _start(run, tenant, admin_user, data)
    waiting = acts(inst)["approve"]
    assert waiting.state == ActivityState.WAITING
    run(services.instance_cancel, tenant=tenant, actor=admin_user, instance_id=inst.pk, reason="stop")
    inst.refresh_from_db()
    rows = acts(inst)
    assert inst.state == InstanceState.CANCELLED
    assert rows["approve"].state == rows["b"].state == ActivityState.CANCELLED
    from workflow.models import Task

    assert Task.objects.for_tenant(tenant).get(pk=waiting.task_id).state == "cancelled"


def test_compensation_runs_in_reverse_completion_order(run, tenant, admin_user, recorder):
    recorder.failures["d"], recorder.error_type["d"] = 1, "Fatal"
    comp = {"handler": "TestCompensate", "compensation_handler": "TestCompensate"}
    data = definition(
        phase(
            "p",
            1,
            activity("a", **comp),
            activity("b"),
            activity("c", **comp),
            activity("d", retry_policy=fast(non_retryable_error_types=["Fatal"])),
        ),
        compensate_on_failure=True,
    )
    inst = _start(run, tenant, admin_user, data)
    assert inst.state == InstanceState.COMPENSATED
    assert recorder.compensated == ["c", "a"]
    assert acts(inst)["c"].compensated_at is not None and acts(inst)["b"].compensated_at is None
    assert ActivityEvent.objects.for_tenant(tenant).filter(type="workflow.activity.compensated").count() == 2


def test_running_instances_stay_pinned_to_their_version(run, tenant, admin_user, recorder):
    data = definition(
        phase("p", 1, activity("a"), activity("approve", handler="ManualActivityHandler", manual=True)), name="pinned"
    )
    v1 = published(tenant, admin_user, data)
    inst = run(services.instance_start, tenant=tenant, actor=admin_user, template_name="pinned")
    changed = definition(
        phase(
            "p",
            1,
            activity("a"),
            activity("new_step"),
            activity("approve", handler="ManualActivityHandler", manual=True),
        ),
        name="pinned",
    )
    v2 = services.template_new_version(tenant=tenant, actor=admin_user, template_id=v1.pk, definition=changed)
    services.template_publish(tenant=tenant, actor=admin_user, template_id=v2.pk)
    run(
        services.activity_complete_manual,
        tenant=tenant,
        actor=admin_user,
        instance_id=inst.pk,
        activity_id=acts(inst)["approve"].pk,
        result={"ok": True},
    )
    inst.refresh_from_db()
    assert inst.template_id == v1.pk and inst.state == InstanceState.COMPLETED
    assert "new_step" not in acts(inst) and recorder.ran("new_step") == []
    newer = run(services.instance_start, tenant=tenant, actor=admin_user, template_name="pinned")
    assert newer.template_id == v2.pk
    assert WorkflowInstance.objects.for_tenant(tenant).count() == 2


def test_an_attempt_stopped_by_its_time_limit_fails_as_a_timeout_and_is_retried(
    tenant, admin_user, sent, django_capture_on_commit_callbacks
):
    from celery.exceptions import SoftTimeLimitExceeded

    from workflow.engine import handlers

    def slow(ctx):
        raise SoftTimeLimitExceeded()  # what Celery raises in the handler at soft_time_limit

    handlers.register(handlers.Handler("TestSlow", slow))
    try:
        data = definition(phase("p", 1, activity("a", handler="TestSlow", timeout_seconds=5, retry_policy=fast())))
        template = published(tenant, admin_user, data)
        with django_capture_on_commit_callbacks(execute=True):
            inst = services.instance_start(tenant=tenant, actor=admin_user, template_id=template.pk)
        assert sent[0][3]["soft_time_limit"] == 5 and sent[0][3]["task_id"] == f"wf-act-{sent[0][0]}-1"

        with django_capture_on_commit_callbacks(execute=True):
            outcome = services.execute_activity(activity_id=sent[0][0], attempt=1)
    finally:
        handlers._registry.pop("TestSlow", None)

    row = acts(inst)["a"]
    assert outcome == "retry"
    assert (row.state, row.last_error_type, row.celery_task_id) == (
        ActivityState.SCHEDULED,
        "ActivityTimeout",
        f"wf-act-{row.pk}-2",
    )
    assert list(ActivityAttempt.objects.for_tenant(tenant).filter(activity=row).values_list("outcome", flat=True)) == [
        "timed_out"
    ]
    assert sent[-1][:3] == (row.pk, 2, 1.0)
