"""The join on PostgreSQL: two workers finishing two branches at the same moment start the next
step exactly once; a child delivered twice at once is counted once."""

import threading

import pytest
from django.db import connection

from tests.workflow.engine.factories import activity, definition, phase, published
from workflow.engine import services
from workflow.engine.models import ActivityInstance, ActivityState, InstanceState, WorkflowInstance

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _concurrently(*calls):
    barrier = threading.Barrier(len(calls))
    results, errors = [None] * len(calls), []

    def worker(i, fn):
        try:
            barrier.wait(timeout=10)
            results[i] = fn()
        except Exception as exc:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, fn)) for i, fn in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors
    return results


def _fan_out_instance(tenant, admin_user, sent):
    data = definition(
        phase("fan", 1, activity("per", execution_mode="parallel"), mode="parallel", fan_out_over="xs"),
        phase("after", 2, activity("after")),
    )
    template = published(tenant, admin_user, data)
    inst = services.instance_start(tenant=tenant, actor=admin_user, template_id=template.pk, context={"xs": ["a", "b"]})
    children = list(
        ActivityInstance.objects.all_tenants()
        .filter(workflow=inst, parent_activity__isnull=False)
        .order_by("item_index")
    )
    for child in children:
        assert services.activity_begin(activity_id=child.pk, attempt=1) is not None
    return inst, children


def test_two_branches_finishing_together_start_the_next_step_once(tenant, admin_user, recorder, sent):
    inst, (a, b) = _fan_out_instance(tenant, admin_user, sent)
    results = _concurrently(
        lambda: services.activity_succeed(activity_id=a.pk, attempt=1, output={"item": "a"}),
        lambda: services.activity_succeed(activity_id=b.pk, attempt=1, output={"item": "b"}),
    )
    assert results == [True, True]
    after = ActivityInstance.objects.all_tenants().get(workflow=inst, instance_id="after")
    parent = ActivityInstance.objects.all_tenants().get(workflow=inst, instance_id="per")
    assert (parent.state, parent.children_done) == (ActivityState.COMPLETED, 2)
    assert after.state == ActivityState.SCHEDULED
    assert [s[0] for s in sent].count(after.pk) == 1


def test_a_child_delivered_twice_at_once_is_counted_once(tenant, admin_user, recorder, sent):
    inst, (a, b) = _fan_out_instance(tenant, admin_user, sent)
    results = _concurrently(
        lambda: services.activity_succeed(activity_id=a.pk, attempt=1, output={"item": "a"}),
        lambda: services.activity_succeed(activity_id=a.pk, attempt=1, output={"item": "a"}),
    )
    assert sorted(results) == [False, True]
    parent = ActivityInstance.objects.all_tenants().get(workflow=inst, instance_id="per")
    assert (parent.state, parent.children_done) == (ActivityState.RUNNING, 1)
    assert services.activity_succeed(activity_id=b.pk, attempt=1, output={"item": "b"}) is True
    parent.refresh_from_db()
    assert (parent.state, parent.children_done) == (ActivityState.COMPLETED, 2)
    assert WorkflowInstance.objects.all_tenants().get(pk=inst.pk).state == InstanceState.RUNNING  # "after" queued
