"""Factories shared by every app's tests: tenants, users, memberships.

App-specific factories live in ``tests/<app>/factories.py``.
"""

import factory
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

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
    return Token.objects.get_or_create(user=user)[0].key
