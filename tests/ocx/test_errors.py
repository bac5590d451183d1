"""Bad input always gets a 400 in the envelope, never a 500."""

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/v1/auth/token"


def assert_envelope(response, status, error_code):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["success"] is False
    assert body["error_code"] == error_code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], dict)
    return body


def test_malformed_json_is_a_400_in_the_envelope(anon_api):
    response = anon_api.post(TOKEN_URL, data='{"username": "x",', content_type="application/json")

    assert_envelope(response, 400, "MALFORMED_REQUEST")


def test_non_finite_json_constants_are_refused(anon_api):
    response = anon_api.post(TOKEN_URL, data='{"username": NaN}', content_type="application/json")

    assert_envelope(response, 400, "MALFORMED_REQUEST")


def test_unknown_input_field_is_refused_by_name(anon_api):
    response = anon_api.post(TOKEN_URL, {"username": "a", "password": "b", "tenant": "x"}, format="json")

    body = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert "tenant" in body["details"]


def test_wrong_type_is_a_validation_error(anon_api):
    response = anon_api.post(TOKEN_URL, {"username": ["a"], "password": "b"}, format="json")

    body = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert "username" in body["details"]


def test_missing_field_is_a_validation_error(anon_api):
    response = anon_api.post(TOKEN_URL, {"username": "a"}, format="json")

    body = assert_envelope(response, 400, "VALIDATION_ERROR")
    assert "password" in body["details"]


def test_json_array_body_where_object_expected_is_a_validation_error(anon_api):
    response = anon_api.post(TOKEN_URL, data="[1, 2]", content_type="application/json")

    assert_envelope(response, 400, "VALIDATION_ERROR")


@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=1000)
def test_oversized_body_is_a_400_in_the_envelope(anon_api):
    response = anon_api.post(TOKEN_URL, {"username": "a" * 5000, "password": "b"}, format="json")

    body = assert_envelope(response, 400, "PAYLOAD_TOO_LARGE")
    assert body["details"]["max_bytes"] == 1000


def test_unknown_api_path_is_not_found(admin_api):
    response = admin_api.get("/api/v1/events/999999")

    assert_envelope(response, 404, "NOT_FOUND")


def test_method_not_allowed_is_in_the_envelope(admin_api):
    response = admin_api.delete("/api/v1/auth/me")

    assert_envelope(response, 405, "METHOD_NOT_ALLOWED")


def test_application_error_renders_its_status_code_and_details():
    from ocx.core import errors
    from ocx.core.api.exceptions import exception_handler

    response = exception_handler(
        errors.InvalidTransition(current_state="in_progress", target_state="new", entity_type="Task"), {}
    )

    assert response.status_code == 400
    assert response.data == {
        "success": False,
        "error_code": "INVALID_TRANSITION",
        "message": "Transition from in_progress to new not allowed",
        "details": {"current_state": "in_progress", "target_state": "new", "entity_type": "Task"},
    }


def test_rate_limited_error_sets_retry_after():
    from ocx.core import errors
    from ocx.core.api.exceptions import exception_handler

    response = exception_handler(errors.RateLimited(retry_after=7), {})

    assert response.status_code == 429
    assert response["Retry-After"] == "7"


# --- unhandled errors: the envelope with a request id, never Django's HTML page ---------------
def _raising_client(client_or_api):
    client_or_api.raise_request_exception = False  # the test client re-raises what views raise
    return client_or_api


def test_unhandled_error_in_a_drf_view_is_a_500_envelope_with_a_logged_request_id(admin_api, monkeypatch, caplog):
    from ocx.api.views import PingView

    def boom(self, request):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(PingView, "get", boom)

    response = _raising_client(admin_api).get("/api/v1/ping")

    body = assert_envelope(response, 500, "INTERNAL_ERROR")
    request_id = body["details"]["request_id"]
    assert response["Content-Type"].startswith("application/json")
    assert response["X-Request-ID"] == request_id
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged and logged[0].exc_info and "kaboom" in str(logged[0].exc_info[1])
    assert "kaboom" not in response.content.decode()  # the traceback stays in the log


@pytest.mark.django_db(transaction=True)  # the async view reads the database from another thread
def test_unhandled_error_in_a_non_drf_api_view_is_a_500_envelope(admin_api, monkeypatch, caplog):
    # the SSE stream is a plain async Django view
    from activity_feed import sse

    def boom(value):
        raise RuntimeError("sse kaboom")

    monkeypatch.setattr(sse, "parse_last_id", boom)

    response = _raising_client(admin_api).get("/api/v1/events/stream")

    body = assert_envelope(response, 500, "INTERNAL_ERROR")
    logged = [r for r in caplog.records if body["details"]["request_id"] in r.getMessage() and r.exc_info]
    assert logged and str(logged[0].exc_info[1]) == "sse kaboom"


def test_inbound_request_id_is_kept(admin_api, monkeypatch):
    from ocx.api.views import PingView

    monkeypatch.setattr(PingView, "get", lambda self, request: 1 / 0)

    response = _raising_client(admin_api).get("/api/v1/ping", HTTP_X_REQUEST_ID="proxy-req-12345678")

    assert response.json()["details"]["request_id"] == "proxy-req-12345678"


def test_unknown_path_under_api_is_a_json_404(admin_api, anon_api):
    for client in (admin_api, anon_api):
        response = client.get("/api/v1/no/such/thing")

        assert_envelope(response, 404, "NOT_FOUND")
        assert response["Content-Type"].startswith("application/json")


def test_pages_outside_the_api_keep_django_html(client):
    response = client.get("/no/such/page")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
