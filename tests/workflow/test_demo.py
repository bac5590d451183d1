import pytest
from django.core.management import call_command

from workflow.models import ActionPlan, SLARecord, Task, TaskState

pytestmark = pytest.mark.django_db


def test_seed_demo_has_every_state_a_breach_and_an_active_plan_and_is_idempotent():
    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", verbosity=0)

    states = set(Task.objects.all_tenants().values_list("state", flat=True))
    assert states == set(TaskState.values)
    assert SLARecord.objects.all_tenants().filter(status="breached").count() == 1
    assert ActionPlan.objects.all_tenants().filter(state="active").count() == 1
    assert Task.objects.all_tenants().filter(metadata__demo__isnull=False).count() == 7
