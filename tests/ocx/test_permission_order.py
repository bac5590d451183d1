"""Permission before validation: a caller without the permission gets 403 whatever the body.

Validating first would answer a viewer's incomplete body with a 400 listing the fields the
endpoint wants, telling them the body's rules. ``TenantMixin`` checks the permission a view
declares for the method (``required_perm`` / ``required_perms``) before the handler reads the
body.
"""

from __future__ import annotations

import pytest

from ocx.core.access import Role
from tests.factories import member
from tests.workflow.factories import make_plan, make_task

pytestmark = pytest.mark.django_db

WRITES = [
    ("post", "/api/v1/events"),
    ("post", "/api/v1/ingest/salesforce"),  # token-authenticated relay, no source
    ("post", "/api/v1/workflow/tasks"),
    ("post", "/api/v1/workflow/tasks/{task}/transition"),
    ("post", "/api/v1/workflow/action-plans"),
    ("post", "/api/v1/workflow/action-plans/{plan}/activate"),
    ("post", "/api/v1/workflow/action-plans/{plan}/archive"),
    ("post", "/api/v1/workflow/sla-configs"),
    ("patch", "/api/v1/workflow/sla-configs/{config}"),
    ("delete", "/api/v1/workflow/sla-configs/{config}"),
]

REGISTRY_WRITES = [
    ("post", "/api/v1/activities"),
    ("patch", "/api/v1/activities/{activity}"),
    ("delete", "/api/v1/activities/{activity}"),
    ("post", "/api/v1/activities/{activity}/request-approval"),
    ("post", "/api/v1/activities/{activity}/approve"),
    ("post", "/api/v1/activities/{activity}/deploy"),
    ("post", "/api/v1/activities/{activity}/rollback"),
    ("post", "/api/v1/activities/{activity}/suspend"),
    ("post", "/api/v1/activities/{activity}/reactivate"),
    ("post", "/api/v1/activities/{activity}/retire"),
    ("post", "/api/v1/activities/{activity}/new-version"),
    ("post", "/api/v1/activities/{activity}/executions"),
    ("post", "/api/v1/activities/{activity}/conflicts"),
]


@pytest.fixture
def ids(tenant):
    from registry import services as registry_services
    from workflow.models import SLAConfig

    admin = member(tenant, Role.ADMIN, username="acme-owner")
    activity = registry_services.activity_create(
        tenant=tenant, actor=admin, name="Perm_Order", version="1.0.0", ebcl_source="x", owner="o"
    )
    return {
        "task": make_task(tenant, creator=admin).pk,
        "plan": make_plan(tenant, creator=admin).pk,
        "config": SLAConfig.objects.filter(tenant__isnull=True).values_list("pk", flat=True).first() or 1,
        "activity": activity.pk,
    }


def _call(client, method, path, body, **kwargs):
    return getattr(client, method)(path, body, **kwargs)


@pytest.mark.parametrize(("method", "path"), WRITES, ids=[f"{m} {p}" for m, p in WRITES])
def test_a_viewers_empty_write_is_403_not_400(api_client_for, viewer_user, ids, method, path):
    client = api_client_for(viewer_user)

    response = _call(client, method, path.format(**ids), {}, format="json")

    assert response.status_code == 403, response.content[:300]
    assert response.json()["error_code"] == "PERMISSION_DENIED"


@pytest.mark.parametrize(("method", "path"), WRITES[:3], ids=[f"{m} {p}" for m, p in WRITES[:3]])
def test_a_viewers_malformed_body_is_403_too(api_client_for, viewer_user, ids, method, path):
    client = api_client_for(viewer_user)

    response = _call(client, method, path.format(**ids), '{"title": ', content_type="application/json")

    assert response.status_code == 403, response.content[:300]


@pytest.mark.parametrize(("method", "path"), REGISTRY_WRITES)
def test_a_viewers_empty_registry_write_is_403_not_400(api_client_for, viewer_user, ids, method, path):
    client = api_client_for(viewer_user)

    response = _call(client, method, path.format(**ids), {}, format="json")

    assert response.status_code == 403, response.content[:300]


def test_required_perms_any_of_a_tuple(rf, tenant, viewer_user):
    from rest_framework.response import Response
    from rest_framework.test import force_authenticate

    from ocx.core.access import Perm
    from ocx.core.api.views import TenantAPIView

    class Decide(TenantAPIView):
        required_perms = {"POST": (Perm.APPROVE_TECHNICAL, Perm.APPROVE_BUSINESS)}

        def post(self, request):
            return Response({"ok": True})

    approver = member(tenant, Role.APPROVER_BUSINESS, username="acme-business")
    answers = {}
    for user in (viewer_user, approver):
        request = rf.post("/x", {}, content_type="application/json")
        force_authenticate(request, user=user)
        answers[user.username] = Decide.as_view()(request).status_code

    assert answers == {viewer_user.username: 403, approver.username: 200}
