"""Tenant isolation in the admin, generated from the admin registry.

For every model registered on ``admin.site`` that has a tenant, a row of tenant A is made through
the services; a staff user of tenant B holding every model permission then gets 404 on each
URL naming that row (change, delete, history, history item, and every link or form its change
page offers A's staff: action and transition pages), GET and POST alike, and finds nothing of A
in the change list (filters), the add form (choices) or the autocomplete. Staff of A get the
pages. A model registered later without a row here fails ``test_every_tenant_model_has_a_row``.
The rows are built once per module (``tests.reliability.world``, which the probes of
``tests/reliability/`` share); every admin URL x every method is probed there.
"""

from __future__ import annotations

import re

import pytest
from django.contrib import admin
from django.urls import NoReverseMatch, reverse

from activity_feed import services as feed_services
from activity_feed.models import ActivityEvent
from ocx.core.access import Role
from ocx.core.admin import check_tenant_admins, is_tenant_model
from ocx.core.models import Membership, Tenant
from registry import services as registry_services
from runs import services as runs_services
from tests.activity_feed.factories import IngestionSourceFactory
from tests.factories import UserFactory, member
from tests.registry.factories import RegistryWorld
from tests.workflow.factories import make_plan, make_task, move
from workflow import services as workflow_services
from workflow.automation.dispatcher import trigger_run

pytestmark = pytest.mark.django_db

TENANT_MODELS = sorted((m for m in admin.site._registry if is_tenant_model(m)), key=lambda m: m._meta.label)
LABELS = [m._meta.label for m in TENANT_MODELS]
MUST_COVER = {
    "registry.Activity",
    "registry.Approval",
    "registry.Deployment",
    "workflow.Task",
    "workflow.ActionPlan",
    "activity_feed.ActivityEvent",
    "activity_feed.OutboxEvent",
    "activity_feed.EventRead",
    "activity_feed.ReadMarker",
    "activity_feed.IngestionSource",
}
A_MARK = "acme"  # in tenant A's slug, name and usernames: never on a page of B's staff


def _populate(tenant, settings) -> None:
    """At least one row of tenant A of every registered tenant model, through the services."""
    settings.OCX_REGISTRY_REQUIRED_APPROVALS = ["TECHNICAL"]
    world = RegistryWorld(
        tenant=tenant,
        creator=member(tenant, Role.MEMBER, username="acme-creator"),
        admin=member(tenant, Role.ADMIN, username="acme-deployer"),
        approvers={"TECHNICAL": member(tenant, Role.APPROVER_TECHNICAL, username="acme-technical")},
        viewer=None,
        other_tenant=None,
        other_admin=None,
    )
    activity = world.active(name="Acme_Secret_Activity")  # + approvals, a deployment
    registry_services.execution_record(
        tenant=tenant, actor=world.admin, activity_id=activity.pk, outcome="SUCCESS", duration_ms=5
    )
    registry_services.conflict_record(
        tenant=tenant, actor=world.creator, activity_id=activity.pk, documents=["a", "b"], chosen_path="a",
        justification="acme policy",
    )  # fmt: skip

    task = make_task(tenant, creator=world.creator, title="Acme secret task")  # + its SLA record
    make_plan(tenant, creator=world.admin, title="Acme secret plan")
    workflow_services.sla_config_create(
        tenant=tenant, actor=world.admin, service_area="acme", task_type="acme", target_minutes=30
    )
    trigger = workflow_services.trigger_create(
        tenant=tenant, name="acme hook", event_type="workflow.task.blocked",
        actions=[{"action_type": "webhook", "parameters": {"url": "http://127.0.0.1:9/hook", "secret": "s"}}],
    )  # fmt: skip
    move(task, "blocked")  # a state transition and its event (+ outbox row)
    event = ActivityEvent.objects.for_tenant(tenant).get(type="workflow.task.blocked")
    trigger_run(trigger=trigger, event=event)  # a trigger execution and a webhook delivery (sent on commit: never)

    workspace = runs_services.workspace_create(tenant=tenant, actor=world.admin, name="Acme space")  # + its owner
    runs_services.work_unit_add(tenant=tenant, actor=world.admin, workspace_id=workspace.pk, work_unit_id=activity.name)
    runs_services.run_create(tenant=tenant, actor=world.creator, work_unit_id=activity.name, input={"acme": 1})

    feed_services.event_mark_read(tenant=tenant, user=world.creator, event_id=event.pk)
    feed_services.events_mark_all_read(tenant=tenant, user=world.admin)
    IngestionSourceFactory(tenant=tenant, kind="webhook", name="acme-source", secret="whsec_c2VjcmV0")

    # The workflow engine: a published template, an instance whose fan-out has no list (it fails
    # at once: an incident, and the retry / cancel buttons on its page).
    from workflow.engine import services as engine_services

    template = engine_services.template_create(tenant=tenant, actor=world.admin, definition={
        "name": "acme-engine", "phases": [{
            "key": "fan", "name": "Fan", "order": 1, "execution_mode": "parallel", "fan_out_over": "owners",
            "activities": [{"key": "per_owner", "name": "Per owner", "handler_name": "AutomatedActivityHandler",
                            "execution_mode": "parallel"}],
        }],
    })  # fmt: skip
    engine_services.template_publish(tenant=tenant, actor=world.admin, template_id=template.pk)
    engine_services.instance_start(
        tenant=tenant, actor=world.admin, template_id=template.pk, context={"owners": "acme: not a list"}
    )


def _sample(model, tenant):
    if model is Tenant:
        return tenant
    return model._default_manager.filter(tenant=tenant).order_by("pk").first()


# Built once for the module (``_populate`` takes seconds and every test reads the same rows):
# tests.reliability.world runs it in a transaction rolled back after the module.
@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    from tests.reliability.world import module_world

    with module_world(django_db_blocker) as built:
        yield built


@pytest.fixture
def tenant(world, db):
    return world.tenant_a


@pytest.fixture
def other_tenant(world, db):
    return world.tenant_b


@pytest.fixture
def rows(world, db):
    return world.rows


@pytest.fixture
def staff_a(world, db):
    return world.a_staff


@pytest.fixture
def staff_b(world, db):
    return world.b_staff


def _info(model):
    return model._meta.app_label, model._meta.model_name


def _object_urls(model, obj) -> dict[str, str]:
    """The admin's standard object URLs (those the model admin has)."""
    app, name = _info(model)
    urls = {}
    for kind in ("change", "delete", "history"):
        urls[kind] = reverse(f"admin:{app}_{name}_{kind}", args=[obj.pk])
    record = getattr(obj, "history", None)
    if record is not None:
        try:
            urls["history item"] = reverse(
                f"admin:{app}_{name}_simple_history", args=[obj.pk, record.order_by("history_id").first().history_id]
            )
        except NoReverseMatch:  # a model with history whose admin is not SimpleHistoryAdmin
            pass
    return urls


def _linked_object_urls(content: str, model, obj) -> set[str]:
    """Every link and form target of a page that names the object (action, transition pages)."""
    app, name = _info(model)
    prefix = reverse(f"admin:{app}_{name}_change", args=[obj.pk]).rsplit("change/", 1)[0]
    found = {m.split("?")[0] for m in re.findall(r'(?:href|action)="([^"#]+)"', content)}
    return {url for url in found if url.startswith(prefix) and url != prefix}


def test_every_tenant_model_has_a_row(rows):
    missing = sorted(label for label, obj in rows.items() if obj is None)
    assert not missing, f"add a tenant-A row of {missing} to _populate()"
    assert MUST_COVER <= set(rows), sorted(MUST_COVER - set(rows))


@pytest.mark.parametrize("label", LABELS)
def test_staff_of_another_tenant_get_404_on_every_object_url(label, rows, client, staff_a, staff_b):
    model = next(m for m in TENANT_MODELS if m._meta.label == label)
    obj = rows[label]
    urls = _object_urls(model, obj)

    # given: what A's staff are offered on the object's page (actions, transitions, history…)
    client.force_login(staff_a)
    page = client.get(urls["change"])
    assert page.status_code == 200, page.content[:500]
    for kind, url in urls.items():
        answer = client.get(url)
        allowed = (200, 403) if kind == "delete" else (200,)
        assert answer.status_code in allowed, (kind, url, answer.status_code)
    offered = _linked_object_urls(page.content.decode(), model, obj) | set(urls.values())

    # when / then: B's staff reach none of it, reading or writing
    client.force_login(staff_b)
    for url in sorted(offered):
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"post": "yes", "reason": "x"}).status_code == 404, url
    assert type(obj)._default_manager.filter(pk=obj.pk).exists()


@pytest.mark.parametrize("label", LABELS)
def test_lists_filters_and_forms_show_nothing_of_another_tenant(label, rows, client, staff_b):
    model = next(m for m in TENANT_MODELS if m._meta.label == label)
    app, name = _info(model)
    client.force_login(staff_b)

    listing = client.get(reverse(f"admin:{app}_{name}_changelist"))
    add = client.get(reverse(f"admin:{app}_{name}_add"))

    assert listing.status_code == 200
    assert A_MARK not in listing.content.decode().lower()  # no row, no filter choice
    if add.status_code == 200:
        assert A_MARK not in add.content.decode().lower()  # no choice of A's tenant or rows


def _autocomplete_sources():
    """(source model, field, target model) for every FK to a registered tenant model with search."""
    for target in TENANT_MODELS:
        if not admin.site._registry[target].search_fields:
            continue
        for model in admin.site._registry:
            for field in model._meta.get_fields():
                if field.many_to_one and field.concrete and field.related_model is target:
                    yield pytest.param(model, field.name, target, id=f"{model._meta.label}.{field.name}")
                    break


@pytest.mark.parametrize(("source", "field_name", "target"), list(_autocomplete_sources()))
def test_autocomplete_lists_the_users_tenants_rows_only(source, field_name, target, rows, client, staff_a, staff_b):
    obj = _sample(target, Tenant.objects.get(slug="acme-corp"))
    query = {"app_label": source._meta.app_label, "model_name": source._meta.model_name, "field_name": field_name}

    def offered(user) -> set[str]:  # every page of the autocomplete's answer
        client.force_login(user)
        ids, page = set(), 1
        while True:
            response = client.get("/admin/autocomplete/", {**query, "term": "", "page": page})
            assert response.status_code == 200
            ids |= {r["id"] for r in response.json()["results"]}
            if not response.json()["pagination"]["more"]:
                return ids
            page += 1

    assert str(obj.pk) not in offered(staff_b)
    assert str(obj.pk) in offered(staff_a)


def test_history_of_a_deleted_row_stays_with_its_tenant(tenant, other_tenant, client, staff_a, staff_b):
    # given: a draft activity (its history leaves fields untracked) and an SLA config, deleted
    world = RegistryWorld(tenant, staff_a, staff_a, {}, None, other_tenant, None)
    activity = world.create(name="Acme_Deleted")
    registry_services.activity_delete(tenant=tenant, actor=staff_a, activity_id=activity.pk)
    config = workflow_services.sla_config_create(
        tenant=tenant, actor=staff_a, service_area="acme", task_type="gone", target_minutes=5
    )
    workflow_services.sla_config_delete(tenant=tenant, actor=staff_a, config_id=config.pk)
    urls = [
        reverse("admin:registry_activity_history", args=[activity.pk]),
        reverse("admin:workflow_slaconfig_history", args=[config.pk]),
    ]

    for url in urls:
        client.force_login(staff_a)
        assert client.get(url).status_code == 200, url
        client.force_login(staff_b)
        assert client.get(url).status_code == 404, url


def test_history_item_of_an_activity_renders_for_its_tenant(tenant, client, staff_a):
    # simple-history rebuilds the row reading its untracked fields: not through the guarded manager
    world = RegistryWorld(tenant, staff_a, staff_a, {}, None, None, None)
    activity = world.create(name="Acme_History")
    record = activity.history.first()
    client.force_login(staff_a)

    response = client.get(reverse("admin:registry_activity_simple_history", args=[activity.pk, record.history_id]))

    assert response.status_code == 200


@pytest.mark.parametrize("object_id", ["abc", "99999999999999999999", "-1"])
def test_malformed_or_out_of_range_ids_are_404(object_id, client, staff_a):
    client.force_login(staff_a)
    for url in [
        f"/admin/workflow/task/{object_id}/change/",
        f"/admin/workflow/task/{object_id}/history/",
        f"/admin/workflow/task/{object_id}/history/1/",
        f"/admin/workflow/task/{object_id}/transition/in_progress/",
        f"/admin/registry/activity/{object_id}/history/",
        f"/admin/activity_feed/activityevent/{object_id}/change/",
    ]:
        assert client.get(url).status_code == 404, url


def test_superuser_sees_every_tenant(rows, client):
    root = UserFactory(username="root")
    root.is_staff = root.is_superuser = True
    root.save()
    client.force_login(root)

    for model in TENANT_MODELS:
        obj = rows[model._meta.label]
        for url in _object_urls(model, obj).values():
            assert client.get(url).status_code in (200, 403), url


def test_tenant_and_membership_admin_show_the_users_own(rows, client, staff_b, tenant, other_tenant):
    client.force_login(staff_b)

    tenants = client.get(reverse("admin:ocx_tenant_changelist")).context["cl"].result_list
    memberships = client.get(reverse("admin:ocx_membership_changelist")).context["cl"].result_list

    assert list(tenants) == [other_tenant]
    assert {m.tenant_id for m in memberships} == {other_tenant.pk}
    assert Membership.objects.filter(tenant=tenant).exists()


def test_system_check_refuses_an_unscoped_admin_of_a_tenant_model():
    site = admin.AdminSite(name="check")
    site.register(Membership, admin.ModelAdmin)

    class TenantInline(admin.TabularInline):
        model = Membership

    class UnscopedUserAdmin(admin.ModelAdmin):
        inlines = [TenantInline]

    from django.contrib.auth import get_user_model

    site.register(get_user_model(), UnscopedUserAdmin)

    assert {e.id for e in check_tenant_admins(site=site)} == {"ocx.E001", "ocx.E002"}
    assert check_tenant_admins() == []  # every admin of the project scopes its rows
