"""A world of two tenants, built ONCE per module (the cross-tenant probes make thousands of
requests against the same rows): tenant A has a row of every model (``_populate`` of
``tests/ocx/test_admin_tenancy.py``, shared with the admin tenancy tests); tenant B has a
member, an admin and a staff user. Built inside one transaction rolled back after the module
(``module_world``); each test still runs in its own savepoint (``db``)."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace

from django.contrib.auth.models import Permission
from django.db import transaction
from django.test.utils import override_settings

from ocx.core.access import Role
from ocx.core.models import Tenant
from tests.factories import TenantFactory, member


@dataclass
class World:
    tenant_a: Tenant
    tenant_b: Tenant
    rows: dict  # model label -> the first row of tenant A
    a_user: object  # a member of A (owns A's API token)
    a_token: object  # an ApiToken of A's member
    a_staff: object  # staff of A holding every model permission (the probe's control)
    b_member: object
    b_admin: object
    b_staff: object  # staff of B holding every model permission


def _staff(tenant, username):
    user = member(tenant, Role.ADMIN, username=username)
    user.is_staff = True
    user.save()
    user.user_permissions.set(Permission.objects.all())
    return user


def build_world() -> World:
    from django.contrib import admin

    from ocx.core.admin import is_tenant_model
    from ocx.core.tokens import token_issue
    from tests.ocx.test_admin_tenancy import _populate, _sample

    tenant_a = TenantFactory(slug="acme-corp", name="Acme Corp")
    tenant_b = TenantFactory(slug="globex", name="Globex")
    _populate(tenant_a, SimpleNamespace())  # the required approvals are overridden below
    a_user = member(tenant_a, Role.MEMBER, username="acme-probe-owner")
    a_token = token_issue(actor=a_user, name="acme token").token
    models = {m for m in admin.site._registry if is_tenant_model(m)}
    return World(
        tenant_a=tenant_a,
        tenant_b=tenant_b,
        rows={m._meta.label: _sample(m, tenant_a) for m in models},
        a_user=a_user,
        a_token=a_token,
        a_staff=_staff(tenant_a, "acme-probe-staff"),
        b_member=member(tenant_b, Role.MEMBER, username="globex-member"),
        b_admin=member(tenant_b, Role.ADMIN, username="globex-admin"),
        b_staff=_staff(tenant_b, "globex-staff"),
    )


@contextmanager
def module_world(django_db_blocker):
    """``build_world()`` in a transaction that is rolled back on exit (use in a module fixture)."""
    with django_db_blocker.unblock(), override_settings(OCX_REGISTRY_REQUIRED_APPROVALS=["TECHNICAL"]):
        atomic = transaction.atomic()
        atomic.__enter__()
        try:
            yield build_world()
        finally:
            transaction.set_rollback(True)
            atomic.__exit__(None, None, None)
