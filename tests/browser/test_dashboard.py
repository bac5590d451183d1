"""An operator logs in and watches events arrive live on the dashboard."""

import threading

import pytest
from django.db import connection, transaction

from activity_feed.publish import publish
from ocx.core.access import Role
from tests.factories import member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def in_thread(fn, *args):
    """Run ``fn`` in a plain thread: the test thread hosts Playwright's event loop, and the
    after-commit push must not run inside a loop."""
    result = {}

    def run():
        try:
            result["value"] = fn(*args)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    return result["value"]


def publish_two(tenant, other_tenant):
    with transaction.atomic():
        publish(tenant=other_tenant, type="test.thing.happened", title="globex must not show")
        return publish(tenant=tenant, type="registry.activity.approved", title="PO_Approval approved")


def login(page, base, username, password="pw", next_url="/"):
    page.goto(f"{base}/admin/login/?next={next_url}")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")


def test_operator_sees_a_new_event_appear_live(asgi_server, page, tenant, other_tenant):
    operator = member(tenant, Role.ADMIN, username="operator")
    operator.is_staff = True
    operator.save()

    login(page, asgi_server, "operator")
    page.wait_for_selector("#ws-status[data-state=open]", timeout=10_000)

    event = in_thread(publish_two, tenant, other_tenant)

    row = page.wait_for_selector(f"#events tr[data-id='{event.pk}']", timeout=10_000)
    assert "PO_Approval approved" in row.inner_text()
    assert "globex must not show" not in page.inner_text("#events")


def test_staff_user_reaches_the_admin_index(asgi_server, page, tenant):
    approver = member(tenant, Role.APPROVER_COMPLIANCE, username="approver")
    approver.is_staff = True
    approver.save()

    login(page, asgi_server, "approver", next_url="/admin/")

    page.wait_for_selector("#site-name", timeout=10_000)
    assert "OCX governance" in page.inner_text("body")
