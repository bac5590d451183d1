"""Fixtures of the reliability suite: the two-tenant world of the cross-tenant probes (built
once per module, ``tests.reliability.world``) and the OCX processes of the process-death tests
(``tests.procs``)."""

import pytest

from tests.procs import procs  # noqa: F401 - the fixture of the process-death tests
from tests.reliability.world import module_world


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    with module_world(django_db_blocker) as built:
        yield built
