import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import DatabaseError, transaction

from ocx.core import errors
from tests.workflow.engine.factories import activity, definition, phase, published
from workflow.engine import services
from workflow.engine.data import TEST_CYCLE
from workflow.engine.models import ActivityDependency, ActivityTemplate, TemplateStatus, WorkflowTemplate

pytestmark = pytest.mark.django_db


def _refused(tenant, admin_user, data, *, field, activity_key):
    with pytest.raises(errors.ValidationError) as exc:
        services.template_create(tenant=tenant, actor=admin_user, definition=data)
    assert exc.value.details == {f"activities.{activity_key}.{field}": [exc.value.message]}
    assert f"'{activity_key}'" in exc.value.message
    return exc.value


def test_unknown_handler_is_refused_naming_the_activity(tenant, admin_user, recorder):
    data = definition(phase("p", 1, activity("a"), activity("b", handler="NoSuchHandler")))
    _refused(tenant, admin_user, data, field="handler_name", activity_key="b")


def test_dependency_cycle_is_refused(tenant, admin_user, recorder):
    data = definition(
        phase(
            "p", 1, activity("a", depends_on=["b"]), activity("b", depends_on=["a"]), mode="parallel", fan_out_over="xs"
        )
    )
    error = _refused(tenant, admin_user, data, field="depends_on", activity_key="b")
    assert "cycle" in error.message.lower() and "a → b" in error.message


def test_dependency_on_a_later_phase_is_refused(tenant, admin_user, recorder):
    data = definition(phase("one", 1, activity("a", depends_on=["b"])), phase("two", 2, activity("b")))
    _refused(tenant, admin_user, data, field="depends_on", activity_key="a")


def test_condition_that_does_not_pass_the_whitelist_is_refused(tenant, admin_user, recorder):
    data = definition(phase("p", 1, activity("a", conditional_expression="x.__class__")))
    _refused(tenant, admin_user, data, field="conditional_expression", activity_key="a")


@pytest.mark.parametrize(
    "policy",
    [
        {"maximum_attempts": -1},
        {"backoff_coefficient": 0.5},
        {"initial_interval": 0},
        {"initial_interval": 10, "maximum_interval": 5},
        {"unknown": 1},
        {"non_retryable_error_types": "X"},
    ],
)
def test_retry_policy_out_of_range_is_refused(tenant, admin_user, recorder, policy):
    data = definition(phase("p", 1, activity("a", retry_policy=policy)))
    _refused(tenant, admin_user, data, field="retry_policy", activity_key="a")


def test_published_template_is_immutable_in_the_database(tenant, admin_user, recorder):
    template = published(tenant, admin_user, definition(phase("p", 1, activity("a"))))
    with pytest.raises(DatabaseError), transaction.atomic():
        WorkflowTemplate.objects.for_tenant(tenant).filter(pk=template.pk).update(description="changed")
    with pytest.raises(DatabaseError), transaction.atomic():
        ActivityTemplate.objects.filter(template=template).update(handler_name="Other")
    with pytest.raises(DatabaseError), transaction.atomic():
        WorkflowTemplate.objects.for_tenant(tenant).filter(pk=template.pk).delete()


def test_draft_template_can_still_change(tenant, admin_user, recorder):
    template = services.template_create(
        tenant=tenant, actor=admin_user, definition=definition(phase("p", 1, activity("a")))
    )
    assert ActivityTemplate.objects.filter(template=template).update(name="renamed") == 1


def test_new_version_is_a_draft_copy_and_export_round_trips(tenant, admin_user, recorder):
    data = definition(
        phase("p", 1, activity("a"), activity("b", depends_on=["a"], retry_policy={"maximum_attempts": 5}))
    )
    v1 = published(tenant, admin_user, data)
    v2 = services.template_new_version(tenant=tenant, actor=admin_user, template_id=v1.pk)
    assert (v2.version, v2.status) == (2, TemplateStatus.DRAFT)
    exported = services.template_export(template=v2)
    assert exported["phases"][0]["activities"][1]["depends_on"] == ["a"]
    assert exported["phases"][0]["activities"][1]["retry_policy"]["maximum_attempts"] == 5
    v3 = services.template_create(tenant=tenant, actor=admin_user, definition=exported)
    assert services.template_export(template=v3)["phases"] == exported["phases"]


def test_publishing_twice_is_an_invalid_transition(tenant, admin_user, recorder):
    template = published(tenant, admin_user, definition(phase("p", 1, activity("a"))))
    with pytest.raises(errors.InvalidTransition):
        services.template_publish(tenant=tenant, actor=admin_user, template_id=template.pk)


def test_load_workflow_template_command_loads_the_seed_test_cycle(tenant):
    out = StringIO()
    call_command("load_workflow_template", str(TEST_CYCLE), "--tenant", tenant.slug, "--publish", stdout=out)
    template = WorkflowTemplate.objects.for_tenant(tenant).get(name="test_cycle")
    assert template.status == TemplateStatus.PUBLISHED
    acts = ActivityTemplate.objects.filter(template=template)
    assert acts.count() == 49
    assert acts.filter(manual=True).count() == 20
    assert acts.filter(manual=False).count() == 29
    assert acts.filter(execution_mode="parallel").count() == 14
    assert acts.filter(handler_name="AutomatedActivityHandler").count() == 18
    assert (
        acts.exclude(handler_name__in=["AutomatedActivityHandler", "ManualActivityHandler"])
        .values("handler_name")
        .distinct()
        .count()
        == 11
    )
    assert ActivityDependency.objects.filter(activity__template=template).count() == 17
    assert template.phases.count() == 9
    counts = [p.activities.count() for p in template.phases.order_by("order")]
    assert counts == [6, 5, 5, 5, 5, 6, 5, 6, 6]
    assert "v1 (published)" in out.getvalue()
    # the seed's timeout table
    assert acts.get(key="approve_planning").timeout_seconds == 48 * 3600
    assert acts.get(key="review_planning_attributes").timeout_seconds == 24 * 3600
    assert acts.get(key="planning_start").timeout_seconds == 60
    assert acts.get(key="execute_tests").timeout_seconds == 30 * 60
    assert json.loads(TEST_CYCLE.read_text())["name"] == "test_cycle"
