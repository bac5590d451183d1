"""Automation triggers: sandboxed predicates, built-ins, failure isolation, idempotency."""

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError

from activity_feed.models import ActivityEvent
from ocx.core import errors
from tests.workflow.factories import make_plan, make_task, move
from workflow import services
from workflow.automation import predicates
from workflow.automation.dispatcher import handle_event, trigger_run
from workflow.models import AutomationTrigger, ExecutionStatus, Task, TriggerExecution

pytestmark = pytest.mark.django_db

ALERT = [{"action_type": "emit_alert", "parameters": {"alert_type": "x", "message": "m"}}]
EVIL = [
    "().__class__.__bases__[0].__subclasses__()",
    "task_type.__class__",
    # attribute access other than event_data.get(key[, default]), called at once
    "event_data.keys()",
    "event_data.items()",
    "event_data.pop('new_state')",
    "new_state.upper() == 'BLOCKED'",
    "event_data.get",
    "event_data.get.__self__",
    "event_data.get.__call__('new_state')",
    "event_data.get('new_state').upper()",
    "event_data['x'].get('y')",
    "event_type.get('x')",
    "event_data.get('new_state', 'x', 'y')",
    "event_data.get(key='new_state')",
    "event_data.get(*['new_state'])",
    "event_data.get('__class__')",
    "__import__('os').system('touch /tmp/pwned')",
    "import os",
    "_private == 1",
    "open('/etc/passwd')",
    "(lambda: 1)()",
    "[x for x in [1]]",
    "get(event_data, '__class__')",
]


@pytest.mark.parametrize("predicate", EVIL)
def test_sandbox_rejects_predicate_at_save(tenant, predicate):
    with pytest.raises(errors.ValidationError) as caught:
        services.trigger_create(
            tenant=tenant, name="evil", event_type="workflow.task.blocked", predicate=predicate, actions=ALERT
        )
    assert "predicate" in caught.value.details
    assert not AutomationTrigger.objects.filter(name="evil").exists()


@pytest.mark.parametrize("predicate", EVIL)
def test_model_clean_rejects_predicate(predicate):
    trigger = AutomationTrigger(name="evil", event_type="workflow.task.blocked", predicate=predicate, actions=ALERT)
    with pytest.raises(DjangoValidationError):
        trigger.full_clean()


def test_predicate_written_behind_the_app_is_never_executed(tenant, member_user, monkeypatch):
    # given a row edited with raw SQL / update() past the validation
    trigger = services.trigger_create(tenant=tenant, name="t", event_type="workflow.task.blocked", actions=ALERT)
    AutomationTrigger.objects.filter(pk=trigger.pk).update(predicate="__import__('os').getpid()")
    evaluated = []
    monkeypatch.setattr(predicates.SimpleEval, "eval", lambda self, expr: evaluated.append(expr))
    task = make_task(tenant, creator=member_user)

    # when its event is dispatched
    move(task, "blocked")
    event = ActivityEvent.objects.for_tenant(tenant).get(type="workflow.task.blocked")
    trigger.refresh_from_db()
    execution = trigger_run(trigger=trigger, event=event)

    # then the predicate never reached the evaluator and the failure is recorded
    assert evaluated == []
    assert execution.status == ExecutionStatus.FAILED
    assert "not allowed" in execution.error
    trigger.refresh_from_db()
    assert trigger.failure_count == 1 and "not allowed" in trigger.last_error


SEED_003_PREDICATE = "event_data.get('new_state') == 'blocked' and event_data.get('priority') == 'critical'"


def test_seed_003_predicate_is_accepted_and_evaluated_through_the_safe_getter(monkeypatch):
    # given the evaluator sees what reaches it
    seen = []
    real_eval = predicates.SimpleEval.eval
    monkeypatch.setattr(predicates.SimpleEval, "eval", lambda self, expr: seen.append(expr) or real_eval(self, expr))

    # then the seed's example holds on a blocked critical event only, with no attribute access evaluated
    assert predicates.evaluate_predicate(
        SEED_003_PREDICATE, event_data={"new_state": "blocked", "priority": "critical"}
    )
    assert not predicates.evaluate_predicate(SEED_003_PREDICATE, event_data={"new_state": "blocked", "priority": "low"})
    assert not predicates.evaluate_predicate(SEED_003_PREDICATE, event_data={})
    assert seen and all(".get(" not in expr and "get(event_data, " in expr for expr in seen)
    assert predicates.evaluate_predicate("event_data.get('missing', 'dflt') == 'dflt'", event_data={})


def test_seed_003_trigger_saves_verbatim_and_fires_on_a_blocked_critical_task(
    tenant, member_user, django_capture_on_commit_callbacks
):
    # given the seed's trigger, copied as is
    trigger = services.trigger_create(
        tenant=tenant, name="seed 003", event_type="workflow.task.blocked", predicate=SEED_003_PREDICATE,
        actions=[{"action_type": "emit_alert", "parameters": {"alert_type": "critical_blocked", "message": "{title}"}}],
    )  # fmt: skip
    trigger.full_clean()
    assert AutomationTrigger.objects.get(pk=trigger.pk).predicate == SEED_003_PREDICATE
    critical = make_task(tenant, creator=member_user, priority="critical", title="Payroll")
    routine = make_task(tenant, creator=member_user, priority="low", title="Filing")

    # when both are blocked and the outbox dispatches their events
    with django_capture_on_commit_callbacks(execute=True):
        move(critical, "blocked")
        move(routine, "blocked")

    # then only the critical task raised the alert
    alerts = ActivityEvent.objects.for_tenant(tenant).filter(type="workflow.alert.raised", entity_id=str(critical.pk))
    assert alerts.count() == 1
    assert (
        not ActivityEvent.objects.for_tenant(tenant)
        .filter(type="workflow.alert.raised", event_metadata__alert_type="critical_blocked", entity_id=str(routine.pk))
        .exists()
    )
    executions = TriggerExecution.objects.for_tenant(tenant).filter(trigger=trigger)
    assert sorted(executions.values_list("status", flat=True)) == sorted(
        [ExecutionStatus.SUCCEEDED, ExecutionStatus.SKIPPED]
    )


def test_seed_style_predicate_is_written_with_get(tenant):
    assert predicates.evaluate_predicate(
        "get(event_data, 'new_state') == 'blocked' and priority == 'critical'",
        event_data={"new_state": "blocked", "priority": "critical"},
    )
    assert not predicates.evaluate_predicate("new_state == 'blocked'", event_data={"new_state": "new"})
    assert predicates.evaluate_predicate("missing is None", event_data={})


def test_builtin_triggers_exist_as_data():
    keys = set(AutomationTrigger.objects.filter(builtin=True, tenant__isnull=True).values_list("key", flat=True))
    assert keys == {"task_completion_followup", "action_plan_activation_notification"}


def test_completing_intake_task_creates_assessment_task(tenant, member_user, django_capture_on_commit_callbacks):
    task = make_task(tenant, creator=member_user, assignee=member_user, task_type="intake", title="New client")

    with django_capture_on_commit_callbacks(execute=True):
        move(task, "in_progress", "completed", actor=member_user)

    follow_up = Task.objects.for_tenant(tenant).get(task_type="assessment")
    assert follow_up.priority == "high"
    assert follow_up.title == "Assessment: New client"
    assert follow_up.assigned_to == member_user
    assert follow_up.metadata["source_task_id"] == task.pk
    assert follow_up.state == "new"


def test_completing_other_task_types_creates_nothing(tenant, member_user, django_capture_on_commit_callbacks):
    task = make_task(tenant, creator=member_user, task_type="review")
    with django_capture_on_commit_callbacks(execute=True):
        move(task, "in_progress", "completed")
    assert not Task.objects.for_tenant(tenant).filter(task_type="assessment").exists()
    execution = TriggerExecution.objects.for_tenant(tenant).get(trigger__key="task_completion_followup")
    assert execution.status == ExecutionStatus.SKIPPED


def test_activating_plan_emits_alert(tenant, admin_user, django_capture_on_commit_callbacks):
    plan = make_plan(tenant, creator=admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        services.action_plan_activate(tenant=tenant, plan_id=plan.pk, actor=admin_user)
    alert = ActivityEvent.objects.for_tenant(tenant).get(type="workflow.alert.raised")
    assert alert.event_metadata["alert_type"] == "action_plan_activated"
    assert alert.entity_id == str(plan.pk)


def test_failing_trigger_does_not_block_others(tenant, member_user, django_capture_on_commit_callbacks):
    # given a trigger whose action fails (unknown assignee) ordered before a healthy one
    bad = services.trigger_create(
        tenant=tenant, name="bad", event_type="workflow.task.blocked", position=1,
        actions=[{"action_type": "create_task", "parameters": {"title": "x", "assigned_to": "nobody"}}],
    )  # fmt: skip
    good = services.trigger_create(
        tenant=tenant, name="good", event_type="workflow.task.blocked", position=2,
        predicate="new_state == 'blocked'",
        actions=[{"action_type": "emit_alert", "parameters": {"alert_type": "blocked", "message": "{title} blocked"}}],
    )  # fmt: skip
    task = make_task(tenant, creator=member_user, title="Payroll")

    # when the task is blocked and the outbox dispatches its event
    with django_capture_on_commit_callbacks(execute=True):
        move(task, "blocked")

    # then the good trigger ran, the bad one's failure is recorded and nothing of it remains
    assert TriggerExecution.objects.for_tenant(tenant).get(trigger=good).status == ExecutionStatus.SUCCEEDED
    failed = TriggerExecution.objects.for_tenant(tenant).get(trigger=bad)
    assert failed.status == ExecutionStatus.FAILED and "nobody" in failed.error
    assert (
        ActivityEvent.objects.for_tenant(tenant)
        .filter(type="workflow.alert.raised", title="Alert: Payroll blocked")
        .exists()
    )
    assert Task.objects.for_tenant(tenant).filter(title="x").count() == 0
    bad.refresh_from_db()
    assert bad.failure_count == 1


def test_redelivered_event_runs_trigger_once(tenant, member_user, django_capture_on_commit_callbacks):
    task = make_task(tenant, creator=member_user, task_type="intake")
    with django_capture_on_commit_callbacks(execute=True):
        move(task, "in_progress", "completed")
    event = ActivityEvent.objects.for_tenant(tenant).get(type="workflow.task.completed")

    handle_event(event)  # the outbox delivers at least once
    handle_event(event)

    assert Task.objects.for_tenant(tenant).filter(task_type="assessment").count() == 1


def test_failed_execution_is_retried_on_redelivery(tenant, member_user, django_capture_on_commit_callbacks):
    trigger = services.trigger_create(
        tenant=tenant, name="flaky", event_type="workflow.task.blocked",
        actions=[{"action_type": "create_task", "parameters": {"title": "x", "assigned_to": "later"}}],
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        move(make_task(tenant, creator=member_user), "blocked")
    event = ActivityEvent.objects.for_tenant(tenant).get(type="workflow.task.blocked")
    from tests.factories import member

    member(tenant, username="later")
    execution = trigger_run(trigger=trigger, event=event)
    assert execution.status == ExecutionStatus.SUCCEEDED and execution.attempts == 2


def test_transition_action_moves_the_task(tenant, member_user, django_capture_on_commit_callbacks):
    services.trigger_create(
        tenant=tenant, name="auto-start", event_type="workflow.task.created", predicate="priority == 'critical'",
        actions=[{"action_type": "transition", "parameters": {"target_state": "in_progress"}}],
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        task = make_task(tenant, creator=member_user, priority="critical")
    task.refresh_from_db()
    assert task.state == "in_progress"


def test_trigger_of_other_tenant_does_not_fire(tenant, other_tenant, member_user, django_capture_on_commit_callbacks):
    services.trigger_create(tenant=other_tenant, name="theirs", event_type="workflow.task.blocked", actions=ALERT)
    with django_capture_on_commit_callbacks(execute=True):
        move(make_task(tenant, creator=member_user), "blocked")
    assert not TriggerExecution.objects.all_tenants().filter(trigger__name="theirs").exists()


def test_self_feeding_trigger_stops_at_max_depth(tenant, member_user, django_capture_on_commit_callbacks):
    services.trigger_create(
        tenant=tenant, name="loop", event_type="workflow.task.created",
        actions=[{"action_type": "create_task", "parameters": {"title": "again"}}],
    )  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        make_task(tenant, creator=member_user)
    from workflow.services.context import MAX_AUTOMATION_DEPTH

    assert Task.objects.for_tenant(tenant).filter(title="again").count() == MAX_AUTOMATION_DEPTH
    assert TriggerExecution.objects.for_tenant(tenant).filter(status=ExecutionStatus.FAILED).count() == 1


def test_workflow_disabled_runs_no_trigger(tenant, member_user, settings, django_capture_on_commit_callbacks):
    settings.WORKFLOW_ENABLED = False
    task = make_task(tenant, creator=member_user, task_type="intake")
    with django_capture_on_commit_callbacks(execute=True):
        move(task, "in_progress", "completed")
    assert not Task.objects.for_tenant(tenant).filter(task_type="assessment").exists()


@pytest.mark.parametrize(
    "actions",
    [
        [],
        [{"action_type": "shell", "parameters": {}}],
        [{"action_type": "create_task", "parameters": {}}],
        [{"action_type": "create_task", "parameters": {"title": "x", "priority": "urgent"}}],
        [{"action_type": "transition", "parameters": {"target_state": "x", "entity_type": "user"}}],
        [{"action_type": "webhook", "parameters": {"url": "ftp://x"}}],
    ],
)
def test_malformed_actions_are_refused(tenant, actions):
    with pytest.raises(errors.ValidationError):
        services.trigger_create(tenant=tenant, name="bad", event_type="workflow.task.blocked", actions=actions)
