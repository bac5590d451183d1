import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_token_endpoint_returns_token_for_valid_credentials(anon_api, member_user):
    response = anon_api.post("/api/v1/auth/token", {"username": "acme-member", "password": "pw"}, format="json")

    assert response.status_code == 200
    assert set(response.json()) == {"token", "id", "expires_at"}
    assert response.json()["token"].startswith("ocx_") and response.json()["expires_at"]


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


@pytest.mark.parametrize(
    ("deactivated", "status", "error_code"),
    [("user", 401, "AUTHENTICATION_FAILED"), ("tenant", 403, "PERMISSION_DENIED")],
)
def test_deactivated_user_or_their_only_tenant_is_refused(
    api_client_for, member_user, tenant, deactivated, status, error_code
):
    client = api_client_for(member_user)
    target = member_user if deactivated == "user" else tenant
    target.is_active = False
    target.save()

    response = client.get("/api/v1/events")

    assert response.status_code == status
    assert response.json()["error_code"] == error_code


def test_superuser_without_membership_still_authenticates_by_token(api_client_for, tenant):
    root = UserFactory(username="root", is_superuser=True, is_staff=True)

    response = api_client_for(root).get("/api/v1/auth/me", HTTP_X_TENANT=tenant.slug)

    assert response.status_code == 200
    assert response.json()["username"] == "root" and response.json()["tenant"] == tenant.slug


def test_token_authentication_reads_user_and_memberships_in_one_query(api_client_for, member_user, other_tenant):
    from ocx.core.access import Role
    from tests.factories import MembershipFactory

    MembershipFactory(user=member_user, tenant=other_tenant, role=Role.ADMIN)
    client = api_client_for(member_user)
    client.get("/api/v1/auth/me")  # the first use records last_used_at (an UPDATE); the next minute's do not

    with CaptureQueriesContext(connection) as captured:
        response = client.get("/api/v1/events", HTTP_X_TENANT=other_tenant.slug)
    auth = [q["sql"] for q in captured if "ocx_apitoken" in q["sql"] or "ocx_membership" in q["sql"]]
    mine = client.get("/api/v1/auth/me", HTTP_X_TENANT=other_tenant.slug)  # (a request clears the log)

    assert response.status_code == 200
    assert len(auth) == 1 and "ocx_membership" in auth[0] and "ocx_tenant" in auth[0] and "ocx_apitoken" in auth[0]
    assert mine.json()["tenant"] == other_tenant.slug and mine.json()["role"] == Role.ADMIN
