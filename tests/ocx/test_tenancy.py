"""A request acts in one of the user's tenants; other tenants' rows do not exist for it."""

import pytest

from activity_feed.models import ActivityEvent
from activity_feed.publish import publish
from ocx.core.access import Perm, Role, has_perm
from ocx.core.models import TenantScopeError
from tests.factories import MembershipFactory, UserFactory, member

pytestmark = pytest.mark.django_db


def test_unscoped_query_on_a_tenant_model_is_refused(tenant):
    with pytest.raises(TenantScopeError):
        list(ActivityEvent.objects.filter(type="x.y"))
    with pytest.raises(TenantScopeError):
        ActivityEvent.objects.count()
    with pytest.raises(TenantScopeError):
        ActivityEvent.objects.filter(type="x.y").exists()


def test_scoped_query_only_sees_its_tenant(tenant, other_tenant):
    publish(tenant=tenant, type="test.thing.happened")
    publish(tenant=other_tenant, type="test.thing.happened")

    assert ActivityEvent.objects.for_tenant(tenant).count() == 1
    assert ActivityEvent.objects.all_tenants().count() == 2


def test_scope_survives_chaining(tenant):
    publish(tenant=tenant, type="test.thing.happened")

    qs = ActivityEvent.objects.for_tenant(tenant).filter(type="test.thing.happened").order_by("id")

    assert qs.exclude(type="nope").count() == 1


def test_x_tenant_header_picks_one_of_several_tenants(api_client_for, tenant, other_tenant):
    user = member(tenant, Role.ADMIN, username="both")
    MembershipFactory(user=user, tenant=other_tenant, role=Role.VIEWER)

    default = api_client_for(user).get("/api/v1/auth/me").json()
    picked = api_client_for(user, "globex").get("/api/v1/auth/me").json()

    assert (default["tenant"], default["role"]) == ("acme-corp", "admin")
    assert (picked["tenant"], picked["role"]) == ("globex", "viewer")


def test_x_tenant_of_a_tenant_the_user_is_not_in_is_refused(api_client_for, member_user, other_tenant):
    response = api_client_for(member_user, "globex").get("/api/v1/events")

    assert response.status_code == 403
    assert response.json()["error_code"] == "PERMISSION_DENIED"


def test_unknown_tenant_in_header_is_refused(api_client_for, member_user):
    response = api_client_for(member_user, "no-such-tenant").get("/api/v1/events")

    assert response.status_code == 403


def test_another_tenants_event_is_not_found(member_api, other_tenant):
    foreign = publish(tenant=other_tenant, type="test.secret.event", title="globex only")

    by_id = member_api.get(f"/api/v1/events/{foreign.pk}")
    by_uuid = member_api.get(f"/api/v1/events/{foreign.event_id}")

    assert by_id.status_code == 404
    assert by_uuid.status_code == 404
    assert by_id.json()["error_code"] == "NOT_FOUND"


def test_event_list_shows_only_the_callers_tenant(member_api, tenant, other_tenant):
    mine = publish(tenant=tenant, type="test.thing.happened", title="mine")
    publish(tenant=other_tenant, type="test.thing.happened", title="theirs")

    response = member_api.get("/api/v1/events")

    assert response.status_code == 200
    assert [e["id"] for e in response.json()["results"]] == [mine.pk]


def test_permissions_are_held_per_tenant(tenant, other_tenant):
    user = UserFactory(username="split")
    MembershipFactory(user=user, tenant=tenant, role=Role.ADMIN)
    MembershipFactory(user=user, tenant=other_tenant, role=Role.VIEWER)

    assert has_perm(user, tenant, Perm.MANAGE_SLA)
    assert not has_perm(user, other_tenant, Perm.MANAGE_SLA)
    assert user.has_perm("ocx.MANAGE_SLA", tenant)
    assert not user.has_perm("ocx.MANAGE_SLA", other_tenant)


@pytest.mark.parametrize(
    ("role", "perm", "expected"),
    [
        (Role.VIEWER, Perm.CREATE_TASK, False),
        (Role.MEMBER, Perm.CREATE_TASK, True),
        (Role.MEMBER, Perm.MANAGE_SLA, False),
        (Role.ADMIN, Perm.MANAGE_SLA, True),
        (Role.ADMIN, Perm.APPROVE_COMPLIANCE, False),
        (Role.APPROVER_COMPLIANCE, Perm.APPROVE_COMPLIANCE, True),
        (Role.APPROVER_COMPLIANCE, Perm.APPROVE_SECURITY, False),
        (Role.OWNER, Perm.APPROVE_SECURITY, True),
    ],
)
def test_roles_grant_the_seed_named_permissions(tenant, role, perm, expected):
    user = member(tenant, role)

    assert has_perm(user, tenant, perm) is expected


@pytest.mark.parametrize("path", ["/api/v1/ping", "/api/v1/auth/me", "/api/v1/workflow/metadata"])
def test_a_forbidden_x_tenant_is_refused_even_where_no_tenant_is_needed(
    api_client_for, member_user, other_tenant, path
):
    for slug in ("globex", "no-such-tenant"):
        response = api_client_for(member_user, slug).get(path)

        assert response.status_code == 403, (path, slug)
        assert response.json()["error_code"] == "PERMISSION_DENIED"


def test_ping_answers_with_no_x_tenant_or_one_of_the_users_tenants(api_client_for, member_user, other_tenant):
    assert api_client_for(member_user).get("/api/v1/ping").json() == {"pong": True}
    assert api_client_for(member_user, "acme-corp").get("/api/v1/ping").json() == {"pong": True}


def test_x_tenant_does_not_apply_to_anonymous_endpoints(anon_api, member_user):
    # No caller to check the header against: the token endpoint and public metadata ignore it.
    anon_api.defaults["HTTP_X_TENANT"] = "globex"

    token = anon_api.post("/api/v1/auth/token", {"username": member_user.username, "password": "pw"}, format="json")
    metadata = anon_api.get("/api/v1/workflow/metadata")

    assert (token.status_code, metadata.status_code) == (200, 200)
