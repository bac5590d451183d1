import pytest

from ocx.core.access import Role
from tests.factories import member


@pytest.fixture
def other_member(tenant):
    """A member of the tenant who neither created nor is assigned the task."""
    return member(tenant, Role.MEMBER, username="acme-bystander")


@pytest.fixture(autouse=True)
def _workflow_defaults(request):
    """The default SLA configurations and built-in triggers come from a data migration; a
    transactional test's flush wipes them for the tests after it, so put them back."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None:
        return
    request.getfixturevalue("transactional_db" if marker.kwargs.get("transaction") else "db")
    import importlib

    from django.apps import apps

    importlib.import_module("workflow.migrations.0002_defaults").forwards(apps, None)
