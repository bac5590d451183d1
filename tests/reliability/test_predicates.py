"""Predicate injection against the trigger sandbox (simpleeval behind an AST whitelist): every
expression of the corpus is refused when a trigger is SAVED — by the service and by the admin
form — so nothing of it is ever stored or evaluated at dispatch. A control corpus of ordinary
predicates is accepted and evaluates."""

import pytest
from django.contrib.auth.models import Permission

from ocx.core import errors
from ocx.core.access import Role
from tests.factories import member
from workflow.automation.predicates import MAX_PREDICATE_LENGTH, evaluate_predicate
from workflow.models import AutomationTrigger
from workflow.services import trigger_create

pytestmark = pytest.mark.django_db

CORPUS = {
    # escaping the sandbox
    "dunder attribute chain": "().__class__.__bases__[0].__subclasses__()",
    "dunder import": "__import__('os').system('id')",
    "dunder name": "__builtins__",
    "dunder in a string key": "event_data['__class__']",
    "getattr": "getattr(event_data, 'get')",
    "method of the getter": "event_data.get.__self__",
    "format string": "'{0.__class__}'.format(event_data)",
    "f-string": "f'{event_data}'",
    "lambda": "(lambda: 1)()",
    "comprehension": "[x for x in range(10)]",
    "walrus": "(x := 1)",
    "starred call": "max(*event_data)",
    "keyword call": "int('7', base=8)",
    "dict literal": "{1: 2}",
    "statement": "import os",
    "null byte": "x == '\x00'",
    "not an expression": "x ==",
    "private name": "_secret",
    "eval": "eval('1')",
    "open": "open('/etc/passwd')",
    # resource exhaustion
    "huge exponent": "9**9**9**9",
    "exponent on data": "event_data ** 2",
    "big power in str": "str(10 ** 5000)",
    "string repetition": "'a' * 999999999",
    "repetition the other way": "999999999 * 'ab'",
    "list repetition": "[1] * 999999999",
    "int of a long string": "int('9' * 5000)",
    "nested parentheses": "(" * 500 + "1" + ")" * 500,
    "nested lists": "[" * 300 + "]" * 300,
    "nested not": "not " * 490 + "x",
    "nested unary minus": "-" * 1900 + "1",
    "long addition chain": "1" + "+1" * 990,
    "nested calls": "abs(" * 300 + "1" + ")" * 300,
    "long string": "x == '" + "a" * MAX_PREDICATE_LENGTH + "'",
    "long name": "a" * (MAX_PREDICATE_LENGTH + 1),
}
CONTROL = {
    "task_type == 'intake'": {"task_type": "intake"},
    "priority in ['high', 'urgent'] and new_state != 'cancelled'": {"priority": "high", "new_state": "done"},
    "event_data.get('amount', 0) > 1000": {"amount": 5000},
    "lower(source) == 'crm' or startswith(title, 'VIP')": {"source": "CRM"},
    "not (a == 1) and len(str(b)) < 10": {"a": 2, "b": 3},
}
TRIGGER = {"name": "probe", "event_type": "workflow.task.completed", "actions": [{"action_type": "emit_alert",
           "parameters": {"alert_type": "probe"}}]}  # fmt: skip


@pytest.mark.parametrize("predicate", CORPUS.values(), ids=CORPUS.keys())
def test_hostile_predicate_is_refused_when_a_trigger_is_saved(tenant, predicate):
    with pytest.raises(errors.ValidationError) as refused:
        trigger_create(tenant=tenant, predicate=predicate, **TRIGGER)

    assert "predicate" in refused.value.details
    assert not AutomationTrigger.objects.filter(tenant=tenant).exists()


@pytest.fixture
def staff(tenant):
    user = member(tenant, Role.ADMIN, username="acme-trigger-staff")
    user.is_staff = True
    user.save()
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="workflow"))
    return user


@pytest.mark.parametrize(
    "predicate",
    [CORPUS[k] for k in ("dunder attribute chain", "huge exponent", "string repetition", "nested not")],
    ids=["dunder", "exponent", "repetition", "nesting"],
)
def test_hostile_predicate_is_refused_by_the_admin_form(client, staff, tenant, predicate):
    client.force_login(staff)
    form = {
        "name": "probe",
        "event_type": "workflow.task.completed",
        "predicate": predicate,
        "actions": '[{"action_type": "emit_alert", "parameters": {"alert_type": "probe"}}]',
        "is_active": "on",
        "position": "100",
        "tenant": str(tenant.pk),
    }

    response = client.post("/admin/workflow/automationtrigger/add/", form)

    assert response.status_code == 200  # the form again, with its error
    assert "predicate" in response.context["adminform"].form.errors
    assert not AutomationTrigger.objects.filter(name="probe").exists()


@pytest.mark.parametrize("predicate", CONTROL.keys())
def test_ordinary_predicates_are_saved_and_evaluate(tenant, predicate):
    trigger = trigger_create(tenant=tenant, predicate=predicate, **TRIGGER)

    assert evaluate_predicate(trigger.predicate, event_data=CONTROL[predicate]) is True
