"""Outbound webhooks: HMAC-SHA256 signature, retries with backoff, never inside a transaction."""

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest
from django.db import connection
from django.utils import timezone

from tests.workflow.factories import make_task, move
from workflow import services
from workflow.automation import webhooks
from workflow.models import DeliveryStatus, WebhookDelivery

SECRET = "s3cret"


@pytest.fixture
def receiver():
    """A real HTTP endpoint on localhost that records what it receives."""
    received = []
    status = {"code": 200}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"headers": dict(self.headers), "body": body})
            self.send_response(status["code"])
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"url": f"http://127.0.0.1:{server.server_port}/hook", "received": received, "status": status}
    server.shutdown()


def _hook_trigger(tenant, url):
    return services.trigger_create(
        tenant=tenant, name="hook", event_type="workflow.task.blocked",
        actions=[{"action_type": "webhook", "parameters": {"url": url, "secret": SECRET}}],
    )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_webhook_is_signed_and_sent_after_commit_outside_any_transaction(tenant, member_user, receiver, monkeypatch):
    # given
    _hook_trigger(tenant, receiver["url"])
    seen_in_transaction = []
    real_post = httpx.post

    def spy(*args, **kwargs):
        seen_in_transaction.append(connection.in_atomic_block)
        return real_post(*args, **kwargs)

    monkeypatch.setattr(webhooks.httpx, "post", spy)

    # when the task is blocked (commit → outbox → trigger → delivery → Celery task)
    move(make_task(tenant, creator=member_user, title="Payroll"), "blocked")

    # then exactly one signed request was sent, with no transaction open
    assert seen_in_transaction == [False]
    [request] = receiver["received"]
    headers = {k.lower(): v for k, v in request["headers"].items()}
    assert webhooks.verify(SECRET, headers["x-ocx-timestamp"], request["body"], headers["x-ocx-signature"])
    assert headers["x-ocx-signature"].startswith("sha256=")
    payload = json.loads(request["body"])
    assert payload["event"]["type"] == "workflow.task.blocked" and payload["event"]["data"]["title"] == "Payroll"
    delivery = WebhookDelivery.objects.all_tenants().get()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 1


@pytest.mark.django_db
def test_failed_delivery_is_retried_with_exponential_backoff_then_gives_up(tenant, receiver, settings):
    settings.WORKFLOW_WEBHOOK_BACKOFF_SECONDS = 10
    receiver["status"]["code"] = 503
    delivery = WebhookDelivery.objects.create(
        tenant=tenant,
        url=receiver["url"],
        secret=SECRET,
        payload={"a": 1},
        max_attempts=3,
        next_attempt_at=timezone.now(),
    )
    delays = []
    for _ in range(3):
        outcome = webhooks.webhook_deliver(delivery_id=delivery.pk)
        delays.append(outcome.retry_in)
        # not due yet: a second worker (or an eager re-queue) does nothing
        assert webhooks.webhook_deliver(delivery_id=delivery.pk).status == "skipped"
        WebhookDelivery.objects.all_tenants().filter(pk=delivery.pk).update(
            next_attempt_at=timezone.now() - timedelta(seconds=1)
        )

    delivery.refresh_from_db()
    assert delays == [10, 20, None]
    assert outcome.status == "failed"
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 3
    assert "HTTP 503" in delivery.last_error
    assert len(receiver["received"]) == 3


@pytest.mark.django_db
def test_connection_error_is_retried(tenant, settings):
    settings.WORKFLOW_WEBHOOK_BACKOFF_SECONDS = 5
    delivery = WebhookDelivery.objects.create(
        tenant=tenant, url="http://127.0.0.1:9/closed", payload={}, next_attempt_at=timezone.now()
    )
    outcome = webhooks.webhook_deliver(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert outcome.status == "retry" and outcome.retry_in == 5
    assert delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at > timezone.now()


def test_signature_is_hmac_sha256_of_timestamp_and_body():
    import hashlib
    import hmac

    expected = hmac.new(b"k", b"123.{}", hashlib.sha256).hexdigest()
    assert webhooks.sign("k", "123", b"{}") == f"sha256={expected}"
    assert not webhooks.verify("k", "124", b"{}", webhooks.sign("k", "123", b"{}"))


@pytest.mark.django_db
def test_webhook_url_must_be_http(tenant):
    from ocx.core import errors

    with pytest.raises(errors.ValidationError):
        _hook_trigger(tenant, "file:///etc/passwd")


@pytest.mark.django_db
def test_sweep_resends_due_deliveries(tenant, receiver):
    from workflow.tasks import sweep_webhooks

    WebhookDelivery.objects.create(
        tenant=tenant,
        url=receiver["url"],
        secret=SECRET,
        payload={},
        next_attempt_at=timezone.now() - timedelta(seconds=1),
    )
    assert sweep_webhooks() == 1
    assert WebhookDelivery.objects.all_tenants().get().status == DeliveryStatus.DELIVERED
