"""Login throttling (issue 11 "Hardening", django-axes): the API token endpoint and the admin
login lock a username on an address after OCX_LOGIN_FAILURE_LIMIT failures, answer 429 (the
envelope / a styled page) with Retry-After, and an admin can lift the lockout."""

import pytest
from django.core.management import call_command
from django.test import override_settings
from rest_framework.test import APIClient

from tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("limit_three")]


@pytest.fixture
def limit_three():
    with override_settings(AXES_FAILURE_LIMIT=3):
        yield


def token_login(password, username="acme-member", address="10.1.1.1"):
    return APIClient(REMOTE_ADDR=address).post(
        "/api/v1/auth/token", {"username": username, "password": password}, format="json"
    )


def admin_login(client, password, username="acme-staff"):
    return client.post("/admin/login/?next=/admin/", {"username": username, "password": password})


def test_token_endpoint_locks_the_username_after_the_limit_with_a_429_envelope(member_user):
    failures = [token_login("wrong").status_code for _ in range(3)]

    locked = token_login("pw")  # even the right password, once locked

    assert failures == [401, 401, 429]  # the attempt reaching the limit is answered as locked already
    assert locked.status_code == 429
    body = locked.json()
    assert body["success"] is False and body["error_code"] == "LOGIN_LOCKED_OUT"
    assert body["details"]["retry_after"] == 15 * 60
    assert locked["Retry-After"] == str(15 * 60)


def test_lockout_is_per_username_and_address(member_user, admin_user):
    for _ in range(3):
        token_login("wrong")

    assert token_login("pw", username="acme-admin").status_code == 200  # another user, same address
    assert token_login("pw", address="10.9.9.9").status_code == 200  # same user, another address


def test_a_successful_login_resets_the_failure_count(member_user):
    token_login("wrong")
    token_login("wrong")
    assert token_login("pw").status_code == 200

    assert [token_login("wrong").status_code for _ in range(2)] == [401, 401]


def test_admin_login_lockout_is_a_styled_429_page(client):
    UserFactory(username="acme-staff", is_staff=True)

    for _ in range(3):
        admin_login(client, "wrong")
    response = admin_login(client, "pw")

    assert response.status_code == 429
    assert response["Retry-After"] == str(15 * 60)
    html = response.content.decode()
    assert "Too many failed logins" in html
    assert 'id="site-name"' in html and "ocx/admin.css" in html  # the admin's own layout


def test_axes_reset_lifts_a_lockout(member_user):
    for _ in range(3):
        token_login("wrong")
    assert token_login("pw").status_code == 429

    call_command("axes_reset_username", "acme-member")

    assert token_login("pw").status_code == 200


def test_superuser_sees_and_deletes_lockouts_in_the_admin(client, member_user):
    from axes.models import AccessAttempt

    for _ in range(3):
        token_login("wrong")
    root = UserFactory(username="root", is_superuser=True, is_staff=True)
    client.force_login(root)
    attempt = AccessAttempt.objects.get(username="acme-member")

    listing = client.get("/admin/axes/accessattempt/")
    client.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})

    assert listing.status_code == 200 and "acme-member" in listing.content.decode()
    assert not AccessAttempt.objects.exists()
    assert token_login("pw").status_code == 200


@override_settings(AXES_ENABLED=False)
def test_throttling_can_be_switched_off(member_user):
    assert [token_login("wrong").status_code for _ in range(4)] == [401] * 4
