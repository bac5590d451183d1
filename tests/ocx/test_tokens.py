"""API tokens (issue 11 "Hardening"): hashed, expiring, listed and revoked by their owner, rotated
without downtime, audited; ``/api/v1/auth/tokens``."""

import hashlib
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from ocx.core import tokens
from ocx.core.api.authentication import authenticate_key, user_for_token
from ocx.core.models import ApiToken
from tests.factories import member

pytestmark = pytest.mark.django_db


def bearer(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def issue(user, *, name="ci", days_ago=0, **kwargs) -> tokens.IssuedToken:
    return tokens.token_issue(actor=user, name=name, now=timezone.now() - timedelta(days=days_ago), **kwargs)


# --- storage and expiry ---------------------------------------------------------------------------
def test_only_a_hash_of_the_key_is_stored(member_user):
    issued = issue(member_user)

    row = ApiToken.objects.values().get(pk=issued.token.pk)

    assert issued.key.startswith("ocx_") and len(issued.key) > 40
    assert row["key_hash"] == hashlib.sha256(issued.key.encode()).hexdigest()
    assert issued.key not in {str(value) for value in row.values()}
    assert row["prefix"] == issued.key[:12]


@override_settings(OCX_TOKEN_LIFETIME_DAYS=30)
def test_a_new_token_expires_after_the_configured_lifetime_and_not_later(member_user):
    default = issue(member_user)
    asked_longer = issue(member_user, lifetime=timedelta(days=365))
    asked_shorter = issue(member_user, lifetime=timedelta(days=2))

    def days(t):
        return round((t.token.expires_at - t.token.created_at) / timedelta(days=1))

    assert (days(default), days(asked_longer), days(asked_shorter)) == (30, 30, 2)


@override_settings(OCX_TOKEN_LIFETIME_DAYS=0)
def test_lifetime_zero_means_tokens_do_not_expire(member_user):
    assert issue(member_user).token.expires_at is None


def test_an_expired_token_is_refused_saying_so(member_user):
    issued = issue(member_user, lifetime=timedelta(days=1), days_ago=2)

    response = bearer(issued.key).get("/api/v1/auth/me")

    assert response.status_code == 401
    assert response.json()["error_code"] == "AUTHENTICATION_FAILED"
    assert response.json()["message"] == "Token expired."


def test_websocket_and_sse_lookup_refuses_expired_and_revoked_tokens(member_user):
    good, expired, revoked = (
        issue(member_user),
        issue(member_user, lifetime=timedelta(days=1), days_ago=2),
        issue(member_user),
    )
    tokens.token_revoke(actor=member_user, token_id=revoked.token.public_id)

    assert user_for_token(good.key) == member_user
    assert user_for_token(expired.key) is None
    assert user_for_token(revoked.key) is None
    assert user_for_token("ocx_unknown") is None


# --- listing, owner scope -------------------------------------------------------------------------
def test_owner_lists_own_tokens_without_keys(member_user, admin_user):
    mine = issue(member_user, name="laptop")
    issue(admin_user, name="someone else's")

    response = bearer(mine.key).get("/api/v1/auth/tokens")

    assert response.status_code == 200
    rows = response.json()
    assert [row["name"] for row in rows] == ["laptop"]
    assert rows[0]["id"] == str(mine.token.public_id) and rows[0]["state"] == "active"
    assert "key" not in rows[0] and "key_hash" not in rows[0]
    assert mine.key not in response.content.decode()


@pytest.mark.parametrize(
    ("method", "suffix"), [("get", ""), ("post", "/rotate"), ("post", "/revoke")], ids=["get", "rotate", "revoke"]
)
def test_another_users_token_is_a_404_even_for_a_tenant_admin(member_user, admin_user, method, suffix):
    theirs = issue(member_user)
    admin_key = issue(admin_user).key

    response = getattr(bearer(admin_key), method)(
        f"/api/v1/auth/tokens/{theirs.token.public_id}{suffix}", format="json"
    )

    assert response.status_code == 404
    assert response.json()["error_code"] == "NOT_FOUND"
    assert ApiToken.objects.get(pk=theirs.token.pk).revoked_at is None


def test_tokens_endpoints_need_authentication(db):
    assert APIClient().get("/api/v1/auth/tokens").status_code == 401


# --- create, revoke, rotate through the API -------------------------------------------------------
def test_owner_creates_a_named_short_lived_token_and_sees_its_key_once(member_user):
    login = issue(member_user)

    created = bearer(login.key).post("/api/v1/auth/tokens", {"name": "ci", "expires_in_days": 7}, format="json")
    listed = bearer(login.key).get("/api/v1/auth/tokens")

    assert created.status_code == 201
    body = created.json()
    assert body["name"] == "ci" and body["key"].startswith("ocx_")
    assert bearer(body["key"]).get("/api/v1/auth/me").status_code == 200
    expires = timezone.datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert timedelta(days=6, hours=23) < expires - timezone.now() <= timedelta(days=7)
    assert body["key"] not in listed.content.decode()


def test_create_refuses_unknown_fields_and_out_of_range_lifetimes(member_user):
    key = issue(member_user).key

    unknown = bearer(key).post("/api/v1/auth/tokens", {"nmae": "x"}, format="json")
    too_long = bearer(key).post("/api/v1/auth/tokens", {"expires_in_days": 10**30}, format="json")

    assert unknown.status_code == 400 and unknown.json()["error_code"] == "VALIDATION_ERROR"
    assert too_long.status_code == 400 and "expires_in_days" in too_long.json()["details"]


def test_revoked_token_stops_working_at_once_and_revoking_again_changes_nothing(member_user):
    issued = issue(member_user)
    other = issue(member_user)
    client = bearer(other.key)

    first = client.post(f"/api/v1/auth/tokens/{issued.token.public_id}/revoke")
    again = client.post(f"/api/v1/auth/tokens/{issued.token.public_id}/revoke")

    assert first.status_code == 200 and first.json()["state"] == "revoked"
    assert again.json()["revoked_at"] == first.json()["revoked_at"]
    refused = bearer(issued.key).get("/api/v1/auth/me")
    assert refused.status_code == 401 and refused.json()["message"] == "Token revoked."


def test_rotation_gives_a_new_key_while_the_old_one_works_for_the_grace_period(member_user):
    old = issue(member_user, name="deploy-bot")

    response = bearer(old.key).post(
        f"/api/v1/auth/tokens/{old.token.public_id}/rotate", {"grace_seconds": 600}, format="json"
    )

    assert response.status_code == 201
    new = response.json()
    assert new["name"] == "deploy-bot" and new["rotated_from"] == str(old.token.public_id)
    # no downtime: both keys work now
    assert bearer(old.key).get("/api/v1/auth/me").status_code == 200
    assert bearer(new["key"]).get("/api/v1/auth/me").status_code == 200
    # the old key dies when the grace period ends
    old_row = ApiToken.objects.get(pk=old.token.pk)
    assert timedelta(seconds=590) < old_row.expires_at - timezone.now() <= timedelta(seconds=600)
    with pytest.raises(Exception, match="Token expired"):
        authenticate_key(old.key, now=timezone.now() + timedelta(seconds=601))
    assert authenticate_key(new["key"], now=timezone.now() + timedelta(seconds=601))[0] == member_user


def test_a_token_is_rotated_once_and_a_revoked_one_not_at_all(member_user):
    old = issue(member_user)
    revoked = issue(member_user)
    tokens.token_revoke(actor=member_user, token_id=revoked.token.public_id)
    client = bearer(issue(member_user).key)

    client.post(f"/api/v1/auth/tokens/{old.token.public_id}/rotate", {}, format="json")
    twice = client.post(f"/api/v1/auth/tokens/{old.token.public_id}/rotate", {}, format="json")
    dead = client.post(f"/api/v1/auth/tokens/{revoked.token.public_id}/rotate", {}, format="json")

    assert twice.status_code == 409 and twice.json()["error_code"] == "CONFLICT"
    assert dead.status_code == 409


def test_rotation_never_extends_the_old_keys_life(member_user):
    old = issue(member_user, lifetime=timedelta(hours=1))

    tokens.token_rotate(actor=member_user, token_id=old.token.public_id, grace=timedelta(days=3))

    assert ApiToken.objects.get(pk=old.token.pk).expires_at == old.token.expires_at


# --- audit ----------------------------------------------------------------------------------------
def test_issue_rotate_and_revoke_are_history_rows_naming_the_actor(member_user, admin_user, caplog):
    caplog.set_level("INFO", logger="ocx.audit")
    issued = issue(member_user)
    rotated = tokens.token_rotate(actor=member_user, token_id=issued.token.public_id)
    tokens.token_revoke(actor=member_user, token_id=rotated.token.public_id)

    history = ApiToken.history.order_by("history_id")
    rows = [(h.public_id, h.history_type, h.history_user_id) for h in history]

    old, new = issued.token.public_id, rotated.token.public_id
    assert rows == [
        (old, "+", member_user.pk),
        (new, "+", member_user.pk),
        (old, "~", member_user.pk),  # expires_at shortened to the grace period
        (new, "~", member_user.pk),  # revoked
    ]
    messages = [r.getMessage() for r in caplog.records if r.name == "ocx.audit"]
    assert [m.split()[1] for m in messages] == ["issued", "rotated", "revoked"]


def test_use_is_recorded_at_most_once_a_minute(member_user, caplog):
    caplog.set_level("INFO", logger="ocx.audit")
    issued = issue(member_user)
    start = timezone.now()

    def use(at):
        with CaptureQueriesContext(connection) as captured:
            authenticate_key(issued.key, ip="10.0.0.7", now=at)
        return sum(1 for q in captured if q["sql"].startswith("UPDATE"))

    writes = [
        use(start),
        use(start + timedelta(seconds=30)),
        use(start + timedelta(seconds=59)),
        use(start + timedelta(seconds=61)),
    ]

    row = ApiToken.objects.get(pk=issued.token.pk)
    assert writes == [1, 0, 0, 1]
    assert row.last_used_at == start + timedelta(seconds=61) and row.last_used_ip == "10.0.0.7"
    assert sum("token used" in r.getMessage() for r in caplog.records) == 2


# --- keys issued before hashing -------------------------------------------------------------------
def test_migration_keeps_drf_keys_working_but_stores_only_their_hash(db, tenant):
    import importlib

    from django.apps import apps
    from rest_framework.authtoken.models import Token

    user = member(tenant, username="old-client")
    legacy = Token.objects.create(user=user).key
    migration = importlib.import_module("ocx.migrations.0002_api_tokens")

    migration.copy_drf_tokens(apps, connection.schema_editor())

    assert not Token.objects.exists()
    assert user_for_token(legacy) == user
    assert ApiToken.objects.get(user=user).expires_at is not None


# --- schema ---------------------------------------------------------------------------------------
def test_schema_documents_token_endpoints_with_their_real_answers(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]

    assert set(paths["/api/v1/auth/tokens"]) >= {"get", "post"}
    assert "201" in paths["/api/v1/auth/tokens"]["post"]["responses"]
    rotate = paths["/api/v1/auth/tokens/{token_id}/rotate"]["post"]["responses"]
    assert {"201", "401", "404", "409"} <= set(rotate)
    assert "404" in paths["/api/v1/auth/tokens/{token_id}/revoke"]["post"]["responses"]
    assert "429" in paths["/api/v1/auth/token"]["post"]["responses"]


# --- admin ----------------------------------------------------------------------------------------
def _staff(tenant, username):
    from django.contrib.auth.models import Permission

    from ocx.core.access import Role

    user = member(tenant, Role.ADMIN, username=username)
    user.is_staff = True
    user.save()
    user.user_permissions.set(Permission.objects.filter(codename__in=["view_apitoken", "change_apitoken"]))
    return user


def test_admin_lists_and_opens_only_tokens_of_the_staff_users_tenants(client, tenant, other_tenant, member_user):
    ours = issue(member_user, name="ours")
    theirs = issue(member(other_tenant, username="globex-dev"), name="theirs")
    client.force_login(_staff(tenant, "acme-staff"))

    listing = client.get("/admin/ocx/apitoken/")
    own = client.get(f"/admin/ocx/apitoken/{ours.token.pk}/change/")
    foreign = [client.get(f"/admin/ocx/apitoken/{theirs.token.pk}/{page}/") for page in ("change", "history")]

    assert listing.status_code == 200
    assert ours.token.prefix in listing.content.decode() and theirs.token.prefix not in listing.content.decode()
    assert own.status_code == 200 and ours.key not in own.content.decode()
    assert [r.status_code for r in foreign] == [404, 404]


def test_admin_revoke_action_revokes_in_scope_tokens_only(client, tenant, other_tenant, member_user):
    ours = issue(member_user)
    theirs = issue(member(other_tenant, username="globex-dev"))
    staff = _staff(tenant, "acme-staff")
    client.force_login(staff)

    response = client.post(
        "/admin/ocx/apitoken/",
        {"action": "revoke", "_selected_action": [ours.token.pk, theirs.token.pk]},
    )

    assert response.status_code == 302
    assert ApiToken.objects.get(pk=ours.token.pk).revoked_at is not None
    assert ApiToken.objects.get(pk=theirs.token.pk).revoked_at is None
    assert ApiToken.history.filter(public_id=ours.token.public_id, history_user=staff, history_type="~").exists()
