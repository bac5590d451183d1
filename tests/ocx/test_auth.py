import pytest

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_token_endpoint_returns_token_for_valid_credentials(anon_api, member_user):
    response = anon_api.post("/api/v1/auth/token", {"username": "acme-member", "password": "pw"}, format="json")

    assert response.status_code == 200
    assert set(response.json()) == {"token"}


def test_token_authenticates_api_requests(anon_api, member_user):
    token = anon_api.post("/api/v1/auth/token", {"username": "acme-member", "password": "pw"}, format="json").json()[
        "token"
    ]

    anon_api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = anon_api.get("/api/v1/auth/me")

    assert response.status_code == 200
    assert response.json()["username"] == "acme-member"
    assert response.json()["tenant"] == "acme-corp"


def test_bearer_scheme_is_accepted_like_token(anon_api, member_user):
    token = anon_api.post("/api/v1/auth/token", {"username": "acme-member", "password": "pw"}, format="json").json()[
        "token"
    ]

    anon_api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = anon_api.get("/api/v1/auth/me")

    assert response.status_code == 200
    assert response.json()["username"] == "acme-member"


def test_token_endpoint_refuses_wrong_password_in_envelope(anon_api, member_user):
    response = anon_api.post("/api/v1/auth/token", {"username": "acme-member", "password": "nope"}, format="json")

    assert response.status_code == 401
    assert response.json()["success"] is False
    assert response.json()["error_code"] == "AUTHENTICATION_FAILED"


def test_api_requires_authentication(anon_api, db):
    response = anon_api.get("/api/v1/events")

    assert response.status_code in (401, 403)
    assert response.json()["error_code"] == "NOT_AUTHENTICATED"


def test_bad_token_is_refused(anon_api, db):
    anon_api.credentials(HTTP_AUTHORIZATION="Token deadbeef")

    response = anon_api.get("/api/v1/events")

    assert response.status_code == 401
    assert response.json()["error_code"] == "AUTHENTICATION_FAILED"


def test_user_without_membership_is_refused(api_client_for, db):
    loner = UserFactory(username="loner")

    response = api_client_for(loner).get("/api/v1/events")

    assert response.status_code == 403
    assert response.json()["error_code"] == "PERMISSION_DENIED"
