"""Cross-tenant probe of the REST API, generated from the URL conf.

Every ``/api/`` route with a path parameter is called with tenant A's object in it, with every
method, as a member and as an admin of tenant B. Each answer must be the one a non-existent id
gets (so nothing tells A's row exists) and a 404 — or, for a method the route does not have at
all, the same 405 a missing id gets (or the same 403 when B's role lacks the permission: refused
before any lookup). Afterwards A's rows are unchanged and tenant B has no new
event. A new route whose parameters the probe cannot fill fails ``test_every_api_route_is_probed``
with the fixture to add.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from rest_framework.test import APIClient

from activity_feed.models import ActivityEvent
from ocx.core.admin import is_tenant_model
from tests.factories import token_for
from tests.reliability.probe import METHODS, missing_value, routes

pytestmark = pytest.mark.django_db


def _engine_activity(w):
    from workflow.engine.models import ActivityInstance

    act = ActivityInstance.objects.for_tenant(w.tenant_a).order_by("pk").first()
    return act and {"pk": act.workflow_id, "activity_id": act.pk}


def _row(label, **attrs):
    """kwargs from the first tenant-A row of ``label``: {param: attribute of the row}."""

    def fill(w):
        obj = w.rows.get(label)
        return obj and {param: getattr(obj, attr) for param, attr in attrs.items()}

    fill.label = label
    return fill


_ACTIVITY = _row("registry.Activity", activity_id="pk")
# Which object of tenant A each parameterised API route names. A new route needs a line here
# (and, for a new model, a row in tests/ocx/test_admin_tenancy.py::_populate).
ROUTE_OBJECTS = {
    "v1:auth-token-detail": lambda w: {"token_id": w.a_token.public_id},
    "v1:auth-token-rotate": lambda w: {"token_id": w.a_token.public_id},
    "v1:auth-token-revoke": lambda w: {"token_id": w.a_token.public_id},
    "v1:event-detail": _row("activity_feed.ActivityEvent", pk="pk"),
    "v1:event-read": _row("activity_feed.ActivityEvent", pk="pk"),
    "v1:activity-latest": _row("registry.Activity", name="name"),
    **{
        f"v1:activity-{suffix}": _ACTIVITY
        for suffix in (
            "detail",
            "request-approval",
            "approve",
            "approvals",
            "deploy",
            "deployments",
            "rollback",
            "suspend",
            "reactivate",
            "retire",
            "new-version",
            "versions",
            "executions",
            "stats",
            "conflicts",
        )  # fmt: skip
    },
    "v1:workflow-task-detail": _row("workflow.Task", pk="pk"),
    "v1:workflow-task-transition": _row("workflow.Task", pk="pk"),
    "v1:workflow-plan-detail": _row("workflow.ActionPlan", pk="pk"),
    "v1:workflow-plan-activate": _row("workflow.ActionPlan", pk="pk"),
    "v1:workflow-plan-archive": _row("workflow.ActionPlan", pk="pk"),
    "v1:workflow-sla-config-detail": _row("workflow.SLAConfig", pk="pk"),
    **{
        f"v1:wf-template-{suffix}": _row("workflow.WorkflowTemplate", pk="pk")
        for suffix in ("detail", "publish", "new-version", "export")
    },
    **{
        f"v1:wf-instance-{suffix}": _row("workflow.WorkflowInstance", pk="pk")
        for suffix in ("detail", "cancel", "retry", "timeline")
    },
    **{f"v1:wf-activity-{suffix}": _engine_activity for suffix in ("complete", "retry", "skip")},
    "v1:work-unit-run": _row("registry.Activity", work_unit_id="name"),
    "v1:work-unit-runs": _row("registry.Activity", work_unit_id="name"),
    **{
        f"v1:run-{suffix}": _row("runs.Run", run_id="pk")
        for suffix in ("detail", "heartbeat", "complete", "fail", "cancel")
    },  # fmt: skip
    **{
        f"v1:workspace-{suffix}": _row("runs.Workspace", workspace_id="pk")
        for suffix in ("detail", "archive", "members", "work-units")
    },
    "v1:workspace-member": _row("runs.WorkspaceMember", workspace_id="workspace_id", user_id="user_id"),
    "v1:workspace-work-unit": _row("runs.WorkspaceWorkUnit", workspace_id="workspace_id", work_unit_id="work_unit_id"),
}
# A valid body for the writes that validate before they look the object up (so the probe
# reaches the lookup); others get ``{}``.
_LEASE = {"lease_token": "probe", "attempt": 1}
BODIES = {
    "v1:activity-deploy": {"environment": "PROD"},
    "v1:activity-rollback": {"rollback_reason": "probe"},
    "v1:activity-suspend": {"reason": "probe"},
    "v1:activity-new-version": {"version_type": "MINOR", "change_summary": "probe"},
    "v1:activity-executions": {"outcome": "SUCCESS", "duration_ms": 1},
    "v1:activity-conflicts": {"documents": ["a"], "chosen_path": "a", "justification": "probe"},
    "v1:workflow-task-transition": {"target_state": "in_progress"},
    "v1:wf-activity-skip": {"reason": "probe"},
    "v1:run-heartbeat": _LEASE,
    "v1:run-complete": _LEASE,
    "v1:run-fail": {**_LEASE, "error": "probe"},
    "v1:workspace-members": {"user_id": "globex-member"},
    "v1:workspace-work-units": {"work_unit_id": "Acme_Secret_Activity"},
}
# Required query parameters naming A's rows too.
QUERIES = {"v1:activity-rollback": lambda w: f"?deployment_id={w.rows['registry.Deployment'].pk}"}
# Parameterised routes that name no object of a tenant, each with why.
NO_TENANT_OBJECT = {
    "v1:ingest-webhook": "authenticated by the source's signature, not a user: tests/reliability/test_signatures.py",
}

API_ROUTES = [r for r in routes("api/") if r.params]


def test_every_api_route_is_probed(world):
    unknown = sorted(r.name for r in API_ROUTES if r.name not in ROUTE_OBJECTS and r.name not in NO_TENANT_OBJECT)
    assert not unknown, f"add these routes to ROUTE_OBJECTS in {__file__}: {unknown}"
    unfilled = sorted(r.name for r in API_ROUTES if r.name in ROUTE_OBJECTS and not ROUTE_OBJECTS[r.name](world))
    assert not unfilled, (
        f"no tenant-A object for {unfilled}: add a row of its model to _populate() in tests/ocx/test_admin_tenancy.py"
    )
    stale = sorted(set(ROUTE_OBJECTS) - {r.name for r in API_ROUTES})
    assert not stale, f"routes gone from the URL conf, drop them from ROUTE_OBJECTS: {stale}"


def _snapshot(tenant) -> dict:
    """Every tenant-scoped row of ``tenant``, as values, per registered model."""
    out = {}
    for model in admin.site._registry:
        if is_tenant_model(model) and model._meta.label != "ocx.Tenant":
            out[model._meta.label] = sorted(map(repr, model._default_manager.filter(tenant=tenant).values()))
    return out


def _client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
    return client


def _answer(response) -> tuple:
    body = response.json() if response.get("Content-Type", "").startswith("application/json") else {}
    return response.status_code, body.get("error_code") if isinstance(body, dict) else None


@pytest.mark.parametrize("who", ["b_member", "b_admin"])
def test_no_api_route_reaches_another_tenants_object(world, who):
    # given: a user of tenant B, and the state of tenant A and B's events
    client = _client(getattr(world, who))
    before_a = _snapshot(world.tenant_a)
    b_events = ActivityEvent.objects.for_tenant(world.tenant_b).count()
    leaks, probed = [], 0

    # when: every method on every route naming A's object, beside the same route naming nothing
    for route in API_ROUTES:
        fill = ROUTE_OBJECTS.get(route.name)
        kwargs = fill(world) if fill else None
        if not kwargs:
            continue  # reported by test_every_api_route_is_probed
        nothing = {k: missing_value(k, v) for k, v in kwargs.items()}
        for method in METHODS:
            send = getattr(client, method)
            body = BODIES.get(route.name, {}) if method != "get" else {}
            query = QUERIES[route.name](world) if route.name in QUERIES else ""
            theirs = _answer(send(route.url(**kwargs) + query, body, format="json"))
            absent = _answer(send(route.url(**nothing) + query, body, format="json"))
            probed += 1
            # 403: the role lacks the permission, refused before any lookup (as for a missing id)
            if theirs != absent or theirs[0] not in (403, 404, 405):
                leaks.append(f"{method.upper()} {route.url(**kwargs)}: {theirs} (a missing id: {absent})")

    # then
    assert not leaks, "\n".join(leaks)
    # the control: the same reads answer A's own admin
    own = _client(world.a_staff)
    for route in API_ROUTES:
        if route.name.endswith("-detail") and route.name in ROUTE_OBJECTS and route.name != "v1:auth-token-detail":
            url = route.url(**ROUTE_OBJECTS[route.name](world))
            assert own.get(url).status_code == 200, url
    assert probed >= 5 * len(ROUTE_OBJECTS)
    assert _snapshot(world.tenant_a) == before_a
    assert ActivityEvent.objects.for_tenant(world.tenant_b).count() == b_events


# --- ids in query parameters (filters of lists), discovered from the OpenAPI schema --------------
QUERY_PARAM_OBJECTS = {
    "action_plan_id": lambda w: w.rows["workflow.ActionPlan"].pk,
    "template_id": lambda w: w.rows["workflow.WorkflowTemplate"].pk,
    "entity_id": lambda w: w.rows["workflow.Task"].pk,
    "assigned_to": lambda w: w.rows["workflow.Task"].created_by.username,
    "user": lambda w: w.rows["runs.Run"].user.username,
    "owner": lambda w: w.rows["registry.Activity"].owner,  # free text, but A's own value
}
QUERY_PARAMS_ELSEWHERE = {
    "approval_id": "names a row under an activity path: probed with A's activity (ROUTE_OBJECTS)",
    "deployment_id": "names a row under an activity path: probed with A's activity (QUERIES)",
    "cursor": "an opaque position in the caller's own list; the live probe resumes from A's ids",
    "last_event_id": "the SSE cursor: tests/reliability/test_cross_tenant_live.py",
    "tenant": "the tenant hint: refused in tests/reliability/test_cross_tenant_live.py",
    "correlation_id": "free text carried by events, names no row",
}
ID_LIKE = {"user", "assigned_to", "owner", "created_by", "tenant", "cursor"}


def _query_id_params() -> list[tuple[str, str, str]]:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = []
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            for param in operation.get("parameters", []) if isinstance(operation, dict) else []:
                name = param["name"]
                if param.get("in") == "query" and (name.endswith("_id") or name in ID_LIKE):
                    found.append((method, path, name))
    return found


def test_no_list_filter_reveals_another_tenants_rows(world):
    params = _query_id_params()
    unknown = sorted({n for _, _, n in params} - set(QUERY_PARAM_OBJECTS) - set(QUERY_PARAMS_ELSEWHERE))
    assert not unknown, f"query parameters naming rows: add them to QUERY_PARAM_OBJECTS in {__file__}: {unknown}"
    client = _client(world.b_admin)
    leaks, probed = [], 0

    for method, path, name in params:
        if method != "get" or "{" in path or name not in QUERY_PARAM_OBJECTS or path.endswith("/stream"):
            continue  # writes and path routes: probed above; the stream never ends: the live probe
        value = QUERY_PARAM_OBJECTS[name](world)
        theirs = client.get(path, {name: value})
        absent = client.get(path, {name: missing_value(name, value)})
        probed += 1
        if theirs.status_code != absent.status_code or theirs.json() != absent.json() or "acme" in theirs.text:
            leaks.append(f"GET {path}?{name}={value}: {theirs.status_code} {theirs.text[:300]}")

    assert not leaks, "\n".join(leaks)
    assert probed >= len(QUERY_PARAM_OBJECTS)
