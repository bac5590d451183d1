"""Issue 11, suite item 1: schemathesis over the whole ``/api/schema/``, as an integrator would.

Every operation of the schema the app serves, with bounded examples (``MAX_EXAMPLES`` per
operation, positive and negative data) and a fixed seed, as the admin and as the viewer of the
demo tenant (``manage.py seed_demo``'s ``acme-corp``, token auth), with every built-in check:
no server error, every status code documented, every body in its documented content type and
shape, documented headers, invalid data refused, valid data accepted, … The schema is loaded from
the app itself (WSGI, no server), so a view added later is tested without touching this file.

Excluded, each with its reason (nothing else is):
- ``GET /api/v1/events/stream``: Server-Sent Events, a response that never ends
  (tests/activity_feed cover it with a live server).
- ``POST /api/v1/ingest/hubspot`` and ``POST /api/v1/ingest/webhook/{source}``: anonymous,
  signature-only; generated requests can only ever be refused 401 before reaching the
  normalizers (the signature corpora in tests/activity_feed cover them).
  ``/api/v1/ingest/salesforce`` takes a token too, so it is tested.

Checks tuned, explicitly (not silently):
- ``positive_data_acceptance`` also accepts 400: a body can match the schema and still break a
  business rule the schema cannot express (``INVALID_TRANSITION``, a deploy of a DRAFT, an
  unknown ``assigned_to`` user), which the API answers 400 by design (DESIGN.md's envelope).
- ``max_response_time`` is not set (schemathesis' default): timing on a shared CI runner is the
  benchmarks' job (bench/).

Where it runs: on PostgreSQL (marked ``postgres``), the CI phase where the issue requires it; the
SQLite phase (``make test`` with no services) skips it, which keeps CI inside its budget — the
generated requests are the same on both databases, PostgreSQL is the stricter of the two.
"""

from __future__ import annotations

import io

import pytest
import schemathesis
from django.core import signals
from django.core.management import call_command
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig

MAX_EXAMPLES = 10  # per operation, per generation mode, per user
SEED = 20261201
EXCLUDED_PATHS = [
    "/api/v1/events/stream",  # SSE: never ends
    "/api/v1/ingest/hubspot",  # signature-only
    "/api/v1/ingest/webhook/{source}",  # signature-only
]
CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        "checks": {
            # See the module's docstring: a body can match the schema and break a business rule.
            "positive_data_acceptance": {"expected-statuses": ["2xx", "400", "401", "403", "404", "409", "429"]},
        },
    }
)
HYPOTHESIS = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,  # with the seed: the same examples on every run
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)

# Loaded at collection from the app itself (the schema view reads no table).
SCHEMA = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application(), config=CONFIG).exclude(
    path=EXCLUDED_PATHS
)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


@pytest.fixture(scope="module")
def demo_tokens(django_db_setup, django_db_blocker):
    """The demo data (``seed_demo``) once for the module, rolled back at its end so no other test
    sees it: each test's writes land in its own savepoint inside this transaction."""
    from django.contrib.auth import get_user_model

    from tests.factories import token_for

    # Requests go through the real WSGI handler, whose request signals would close the test's
    # connection mid-transaction; Django's own test client disconnects them the same way.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    with django_db_blocker.unblock():
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            call_command("seed_demo", stdout=io.StringIO())
            users = get_user_model().objects.in_bulk(["acme-admin", "acme-viewer"], field_name="username")
            yield {role: token_for(users[f"acme-{role}"]) for role in ("admin", "viewer")}
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
            signals.request_started.connect(close_old_connections)
            signals.request_finished.connect(close_old_connections)


# Found by this suite in code being written now (runs/, workflow/engine/), reported to its owners
# (issue 11) rather than edited here; non-strict, so each passes again once it is fixed.
KNOWN_FAILURES: dict[str, str] = {}


def _param(operation):
    reason = KNOWN_FAILURES.get(operation.label)
    marks = [pytest.mark.xfail(reason=reason, strict=False)] if reason else []
    return pytest.param(operation, id=operation.label, marks=marks)


# Positive data as both users; negative data as the admin (the viewer's writes are refused 403
# before the body is read, by design: see tests/ocx/test_permission_order.py).
MODES = {
    "admin": (GenerationMode.POSITIVE, GenerationMode.NEGATIVE),
    "viewer": (GenerationMode.POSITIVE,),
}


def _can_be_invalid(operation) -> bool:
    """Whether any part of a request can violate the schema: a body, a query parameter or header,
    or a path parameter with a type or constraint (a bare string path id cannot be invalid;
    hypothesis would search for a negative example in vain)."""
    if operation.body or operation.query or operation.headers:
        return True
    return any(
        set(parameter.definition.get("schema", {})) - {"type"}
        or parameter.definition.get("schema", {}).get("type") != "string"
        for parameter in operation.path_parameters
    )


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.parametrize("role", ["admin", "viewer"])
@pytest.mark.parametrize("operation", [_param(operation) for operation in OPERATIONS])
def test_operation_answers_as_the_schema_says(operation, role, demo_tokens):
    headers = {"Authorization": f"Token {demo_tokens[role]}", "X-Tenant": "acme-corp"}
    for mode in MODES[role]:
        if mode is GenerationMode.NEGATIVE and not _can_be_invalid(operation):
            continue

        @HYPOTHESIS
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case):
            case.call_and_validate(headers=headers)

        try:
            check()
        except Unsatisfiable:
            # Nothing of the operation can be made invalid (no body, no constrained parameter:
            # any string is a valid path id): there is no negative request to send.
            assert mode is GenerationMode.NEGATIVE, f"no valid request can be generated for {operation.label}"
