"""``manage.py seed_demo``: demo tenants, users and content. Idempotent: run it any number of times.

Every demo user's password is ``ocx-demo`` — demo only, never on a real deployment.
Apps add their own demo content in ``<app>/demo.py`` (a ``seed(tenants, users)`` function).
"""

from __future__ import annotations

import importlib

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from ocx.core.access import Role
from ocx.core.audit import acting_as
from ocx.core.models import Membership, Tenant

DEMO_PASSWORD = "ocx-demo"
TENANTS = {"acme-corp": "Acme Corp", "globex": "Globex"}
USERS = {
    "acme-admin": ("acme-corp", Role.ADMIN),
    "acme-technical": ("acme-corp", Role.APPROVER_TECHNICAL),
    "acme-business": ("acme-corp", Role.APPROVER_BUSINESS),
    "acme-compliance": ("acme-corp", Role.APPROVER_COMPLIANCE),
    "acme-security": ("acme-corp", Role.APPROVER_SECURITY),
    "acme-member": ("acme-corp", Role.MEMBER),
    "acme-viewer": ("acme-corp", Role.VIEWER),
    "globex-admin": ("globex", Role.ADMIN),
    "globex-member": ("globex", Role.MEMBER),
}
DEMO_APPS = ("registry", "workflow", "runs", "activity_feed")


class Command(BaseCommand):
    help = "Create (or refresh) the demo tenants, users and content."

    def handle(self, *args, **options):
        User = get_user_model()
        with transaction.atomic():
            admin, _ = User.objects.get_or_create(username="admin", defaults={"email": "admin@ocx.local"})
            admin.is_staff = admin.is_superuser = True
            admin.set_password(DEMO_PASSWORD)
            admin.save()
            tenants = {
                slug: Tenant.objects.update_or_create(slug=slug, defaults={"name": name})[0]
                for slug, name in TENANTS.items()
            }
            users = {"admin": admin}
            for username, (slug, role) in USERS.items():
                user, _ = User.objects.get_or_create(username=username, defaults={"email": f"{username}@ocx.local"})
                user.is_staff = True  # approvers and admins work in the Django admin
                user.set_password(DEMO_PASSWORD)
                user.save()
                Membership.objects.update_or_create(user=user, tenant=tenants[slug], defaults={"role": role})
                users[username] = user
            self._grant_admin_site_permissions(users)

        with acting_as(admin, reason="demo data"):
            for name in DEMO_APPS:
                try:
                    module = importlib.import_module(f"{name}.demo")
                except ModuleNotFoundError as exc:
                    if exc.name != f"{name}.demo":
                        raise
                    continue
                module.seed(tenants=tenants, users=users)
                self.stdout.write(f"  demo content: {name}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {len(tenants)} tenants, {len(users)} users (password '{DEMO_PASSWORD}')."
            )
        )

    def _grant_admin_site_permissions(self, users):
        """Staff need model permissions to see admin pages; what they may *do* is still decided
        per tenant by their role (ocx.core.access)."""
        from django.contrib.auth.models import Group, Permission

        group, _ = Group.objects.get_or_create(name="ocx-staff")
        app_labels = ["registry", "workflow", "runs", "activity_feed"]
        perms = Permission.objects.filter(content_type__app_label__in=app_labels)
        group.permissions.set(perms)
        for username, user in users.items():
            if username != "admin":
                user.groups.add(group)
