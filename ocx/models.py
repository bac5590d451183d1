"""The ``ocx`` app's models live in the core (``ocx.core.models``); Django loads them from here."""

from ocx.core.models import Membership, Tenant, TenantScopedModel  # noqa: F401
