"""Fixtures shared by the whole suite.

Services: tests marked ``postgres`` or ``redis`` need those services. Locally they are skipped
when the service is not configured; under CI (``CI=true``) a missing service is an error, never
a silent skip.
"""

import os

import pytest
from django.db import connection
from rest_framework.test import APIClient

from ocx.core.access import Role
from tests.factories import TenantFactory, member, token_for

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
CHROMIUM = os.environ.get("OCX_CHROMIUM", "/usr/bin/chromium")


def pytest_collection_modifyitems(config, items):
    need_pg = not os.environ.get("DATABASE_URL", "").startswith("postgres")
    need_redis = not os.environ.get("REDIS_URL")
    need_browser = not os.path.exists(CHROMIUM)
    for item in items:
        missing = []
        if need_pg and item.get_closest_marker("postgres"):
            missing.append("PostgreSQL (DATABASE_URL)")
        if need_redis and item.get_closest_marker("redis"):
            missing.append("Redis (REDIS_URL)")
        if need_browser and item.get_closest_marker("browser"):
            missing.append(f"Chromium at {CHROMIUM}")
        if missing and not (IN_CI and os.environ.get("OCX_CI_SERVICES") == "1"):
            item.add_marker(pytest.mark.skip(reason=f"needs {', '.join(missing)}"))


@pytest.fixture
def tenant(db):
    return TenantFactory(slug="acme-corp", name="Acme Corp")


@pytest.fixture
def other_tenant(db):
    return TenantFactory(slug="globex", name="Globex")


@pytest.fixture
def admin_user(tenant):
    return member(tenant, Role.ADMIN, username="acme-admin")


@pytest.fixture
def member_user(tenant):
    return member(tenant, Role.MEMBER, username="acme-member")


@pytest.fixture
def viewer_user(tenant):
    return member(tenant, Role.VIEWER, username="acme-viewer")


@pytest.fixture
def other_admin(other_tenant):
    return member(other_tenant, Role.ADMIN, username="globex-admin")


def _client_for(user, tenant_slug=None):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token_for(user)}")
    if tenant_slug:
        client.defaults["HTTP_X_TENANT"] = tenant_slug
    return client


@pytest.fixture
def api_client_for():
    """``api_client_for(user)`` → an APIClient authenticated with the user's token."""
    return _client_for


@pytest.fixture
def admin_api(admin_user):
    return _client_for(admin_user)


@pytest.fixture
def member_api(member_user):
    return _client_for(member_user)


@pytest.fixture
def other_api(other_admin):
    return _client_for(other_admin)


@pytest.fixture
def anon_api():
    return APIClient()


@pytest.fixture
def is_postgres():
    return connection.vendor == "postgresql"


@pytest.fixture(autouse=True, scope="session")
def _flush_past_guard_triggers():
    """Transactional tests end with a flush; on SQLite that is DELETE, which OCX's guard
    triggers refuse (as they should for everyone else). Flush with the guard lifted."""
    from django.test import testcases

    from ocx.core.db import triggers_bypassed

    original = testcases.TransactionTestCase._fixture_teardown

    def teardown(self):
        with triggers_bypassed():
            return original(self)

    testcases.TransactionTestCase._fixture_teardown = teardown
    yield
    testcases.TransactionTestCase._fixture_teardown = original


@pytest.fixture(autouse=True)
def _no_dispatcher_wake_left_over():
    """A test that mocks the dispatcher's enqueue leaves the wake flag set in the shared cache;
    the next test's commits would then not enqueue one. Start every test without it."""
    from django.core.cache import cache

    from activity_feed.outbox import WAKE_KEY

    cache.delete(WAKE_KEY)
    yield


# --- OCX processes (web, Celery) started by a test, on the test database ---------------------
def process_env(**overrides) -> dict[str, str]:
    """The environment for an OCX subprocess in distributed mode on this test's PostgreSQL
    database and Redis (``CI`` dropped: it changes the subprocess's settings)."""
    import os

    from django.db import connection

    db = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="ocx.settings",
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        REDIS_URL=os.environ["REDIS_URL"],
        **overrides,
    )
    env.pop("CI", None)
    return env


# --- a real ASGI server (uvicorn, HTTP + WebSocket) on loopback -------------------------------
def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def asgi_server(transactional_db):
    """``ocx.asgi.application`` served by uvicorn in a thread; yields its base URL."""
    import threading
    import time

    import uvicorn

    from ocx.asgi import application

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(application, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
