"""Cross-tenant probe of the admin, generated from the admin registry and the URL conf.

For every registered tenant model, every URL its ModelAdmin serves for one object (change,
delete, history, history item, every operation and transition page of
``ocx.core.admin_fsm``, the "view on site" shortcut) is called with tenant A's row, with every
method, as a staff user of tenant B holding every model permission: each answer is the one a
non-existent id gets, and a 404 (a 405 only where a missing id gets the same). A's rows are
unchanged afterwards and B has no new event. Lists, filters' choices, add forms and the
autocomplete are probed by ``tests/ocx/test_admin_tenancy.py`` (same rows).
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.test import Client
from django.urls import reverse

from activity_feed.models import ActivityEvent
from ocx.core import fsm
from ocx.core.admin import is_tenant_model
from tests.reliability.probe import METHODS, missing_value, routes
from tests.reliability.test_cross_tenant_api import _snapshot

pytestmark = pytest.mark.django_db

TENANT_ADMINS = sorted((m for m in admin.site._registry if is_tenant_model(m)), key=lambda m: m._meta.label)
# Registered models without a tenant, each with why the tenant probe does not apply.
NO_TENANT = {
    "auth.User": "users are global (a user may belong to several tenants); staff see users through memberships",
    "auth.Group": "permission groups are global configuration, no tenant data",
    "authtoken.TokenProxy": "DRF's legacy tokens, owner-scoped; superusers only",
    "ocx.ApiToken": "owner-scoped (the owner's tokens in every tenant): probed by the API probe's token routes",
    "axes.AccessAttempt": "login throttling records, superusers only",
    "axes.AccessLog": "login throttling records, superusers only",
    "axes.AccessFailureLog": "login throttling records, superusers only",
}


def _operations(model) -> tuple[list[str], list[str]]:
    """Every operation slug and transition target the model's admin could offer (any state)."""
    model_admin = admin.site._registry[model]
    try:
        edges = [e for e in fsm.edges(model) if e.options.get("service")]
    except TypeError:  # no state machine (a model with extra operations only, or none)
        edges = []
    slugs = {e.options.get("slug", e.name.replace("_", "-")) for e in edges}
    slugs |= {op.slug for op in getattr(model_admin, "extra_operations", ())}
    return sorted(slugs), sorted({e.target for e in edges})


def _object_urls(model, obj) -> list[str] | str:
    """The URLs naming ``obj`` (a message naming what is missing when the probe cannot fill one)."""
    app, name = model._meta.app_label, model._meta.model_name
    slugs, targets = _operations(model)
    urls = []
    for route in routes(f"admin/{app}/{name}/"):
        if route.name.endswith("_simple_history"):
            record = obj.history.order_by("history_id").first()
            urls.append(reverse(route.name, args=[obj.pk, record.history_id]))
        elif route.params == ("object_id",):
            urls.append(route.url(object_id=obj.pk))
        elif route.params == ("object_id", "slug"):
            urls += [route.url(object_id=obj.pk, slug=slug) for slug in slugs]
        elif route.params == ("object_id", "target"):
            urls += [route.url(object_id=obj.pk, target=target) for target in targets]
        elif route.params or "(" in route.pattern:
            return f"{route.pattern}: teach _object_urls in {__file__} to fill {route.params or 'its groups'}"
    content_type = ContentType.objects.get_for_model(model)
    urls.append(reverse("admin:view_on_site", args=[content_type.pk, obj.pk]))
    return urls


def test_every_registered_model_is_probed(world):
    unknown = sorted(
        m._meta.label for m in admin.site._registry if not is_tenant_model(m) and m._meta.label not in NO_TENANT
    )
    assert not unknown, f"registered models without a tenant: add them to NO_TENANT with a reason: {unknown}"
    missing = sorted(m._meta.label for m in TENANT_ADMINS if world.rows.get(m._meta.label) is None)
    assert not missing, f"add a tenant-A row of {missing} to _populate() in tests/ocx/test_admin_tenancy.py"
    unfilled = [urls for m in TENANT_ADMINS if isinstance(urls := _object_urls(m, world.rows[m._meta.label]), str)]
    assert not unfilled, unfilled


def _missing(url: str, pk) -> str:
    return url.replace(f"/{pk}/", f"/{missing_value('pk', pk)}/", 1)


@pytest.mark.parametrize("model", TENANT_ADMINS, ids=lambda m: m._meta.label)
def test_staff_of_another_tenant_reach_no_admin_url_of_a_row(world, model):
    obj = world.rows.get(model._meta.label)
    assert obj is not None, f"add a tenant-A row of {model._meta.label} to _populate() (test_admin_tenancy.py)"
    urls = _object_urls(model, obj)
    assert not isinstance(urls, str), urls
    client = Client()
    client.force_login(world.b_staff)
    before_a = _snapshot(world.tenant_a)
    b_events = ActivityEvent.objects.for_tenant(world.tenant_b).count()
    leaks = []

    for url in urls:
        for method in METHODS:
            send = getattr(client, method)
            data = {"post": "yes", "reason": "probe"} if method == "post" else None
            theirs = send(url, data) if data else send(url)
            absent = send(_missing(url, obj.pk), data) if data else send(_missing(url, obj.pk))
            if theirs.status_code != absent.status_code or theirs.status_code not in (404, 405):
                leaks.append(f"{method.upper()} {url}: {theirs.status_code} (a missing id: {absent.status_code})")

    assert not leaks, "\n".join(leaks)
    # the control: the same change page is there for A's staff
    client.force_login(world.a_staff)
    assert (
        client.get(reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[obj.pk])).status_code
        == 200
    )
    assert _snapshot(world.tenant_a) == before_a
    assert ActivityEvent.objects.for_tenant(world.tenant_b).count() == b_events
