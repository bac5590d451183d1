"""/health, /metrics, OpenAPI and the admin are served."""

from unittest import mock

import pytest
from django.db import OperationalError

pytestmark = pytest.mark.django_db


def test_health_reports_every_component_up(client):
    response = client.get("/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {name: c["status"] for name, c in body["components"].items()} == {
        "database": "up",
        "broker": "up",
        "channel_layer": "up",
    }


def test_health_is_503_when_the_database_is_unreachable(client):
    with mock.patch("ocx.health.connection.cursor", side_effect=OperationalError("connection refused")):
        response = client.get("/health")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["components"]["database"]["status"] == "down"
    assert "connection refused" in body["components"]["database"]["error"]


def test_health_is_503_when_the_broker_is_down(client):
    with mock.patch("ocx.health.check_broker", side_effect=ConnectionError("broker gone")):
        from ocx import health

        with mock.patch.dict(health.CHECKS, {"broker": health.check_broker}):
            response = client.get("/health")

    assert response.status_code == 503
    assert response.json()["components"]["broker"]["status"] == "down"


def test_metrics_expose_requests_celery_and_outbox_backlog(client, tenant):
    from activity_feed.publish import publish

    publish(tenant=tenant, type="x.y.z")
    client.get("/health")

    response = client.get("/metrics")

    assert response.status_code == 200
    text = response.content.decode()
    assert "django_http_requests_total_by_method_total" in text
    assert "django_http_requests_latency_seconds_by_view_method" in text
    assert 'outbox_backlog{status="pending"} 1.0' in text
    assert "celery_tasks_total" in text


def test_openapi_schema_and_swagger_ui_are_served_without_a_cdn(client):
    schema = client.get("/api/schema/")
    docs = client.get("/api/docs/")

    assert schema.status_code == 200
    assert b"/api/v1/auth/token" in schema.content
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "cdn" not in html.lower()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in html


def test_swagger_assets_are_served_locally(client):
    response = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")

    assert response.status_code == 200


def test_admin_login_page_is_served(client):
    assert client.get("/admin/login/").status_code == 200


def test_dashboard_requires_login(client):
    response = client.get("/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_dashboard_shows_the_tenants_events(client, member_user, tenant, other_tenant):
    from activity_feed.publish import publish

    publish(tenant=tenant, type="x.y.z", title="acme visible")
    publish(tenant=other_tenant, type="x.y.z", title="globex hidden")
    client.force_login(member_user)

    html = client.get("/").content.decode()

    assert "acme visible" in html
    assert "globex hidden" not in html


def test_openapi_schema_is_valid_and_generates_without_warnings(tmp_path):
    from django.core.management import call_command

    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))

    assert "bearerAuth" in out.read_text()


# --- /metrics is protected (issue 14): loopback by default, an allow-list or a bearer token ---
def test_metrics_refuse_an_address_outside_the_allow_list(client, db):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.5")

    assert response.status_code == 403
    assert b"django_http_requests" not in response.content


def test_metrics_answer_an_allowed_network(client, db, settings):
    settings.OCX_METRICS_ALLOWED_IPS = ["10.0.0.0/8"]

    assert client.get("/metrics", REMOTE_ADDR="10.2.3.4").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403  # the list replaces loopback


def test_metrics_answer_the_bearer_token_from_anywhere_and_refuse_a_wrong_one(client, db, settings):
    settings.OCX_METRICS_TOKEN = "s3cret-scrape-token"
    outside = {"REMOTE_ADDR": "203.0.113.5"}

    good = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token", **outside)
    wrong = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape-tokex", **outside)
    other_scheme = client.get("/metrics", HTTP_AUTHORIZATION="Token s3cret-scrape-token", **outside)

    assert good.status_code == 200 and b"django_http_requests" in good.content
    assert (wrong.status_code, other_scheme.status_code) == (403, 403)
