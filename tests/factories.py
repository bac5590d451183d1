"""Factories shared by every app's tests: tenants, users, memberships.

App-specific factories live in ``tests/<app>/factories.py``.
"""

import factory
from django.contrib.auth import get_user_model

from ocx.core.access import Role
from ocx.core.models import Membership, Tenant


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"tenant-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user-{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    password = factory.PostGenerationMethodCall("set_password", "pw")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    tenant = factory.SubFactory(TenantFactory)
    role = Role.MEMBER


def member(tenant, role=Role.MEMBER, username=None):
    """A user with ``role`` in ``tenant``."""
    user = UserFactory(**({"username": username} if username else {}))
    MembershipFactory(user=user, tenant=tenant, role=role)
    return user


def token_for(user) -> str:
    """A fresh API key of ``user`` (``ocx.core.tokens``: hashed, expiring), already marked used:
    a token's first use in a minute writes ``last_used_at`` (one UPDATE), and tests that pin
    query counts measure the steady state (tests/ocx/test_tokens.py covers that write)."""
    from django.utils import timezone

    from ocx.core.models import ApiToken
    from ocx.core.tokens import token_issue

    issued = token_issue(actor=user, name="test")
    ApiToken.objects.filter(pk=issued.token.pk).update(last_used_at=timezone.now())
    return issued.key
