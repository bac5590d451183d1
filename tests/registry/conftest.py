"""Registry fixtures: a creator, one approver per approval type, a deployer, and a helper that
walks an activity to any status through the services (never by writing rows)."""

import pytest

from ocx.core.access import Role
from tests.factories import member
from tests.registry.factories import RegistryWorld


@pytest.fixture
def world(tenant, other_tenant, settings):
    settings.OCX_REGISTRY_REQUIRED_APPROVALS = ["TECHNICAL", "BUSINESS", "COMPLIANCE", "SECURITY"]
    return RegistryWorld(
        tenant=tenant,
        creator=member(tenant, Role.MEMBER, username="acme-member"),
        admin=member(tenant, Role.ADMIN, username="acme-admin"),
        approvers={
            "TECHNICAL": member(tenant, Role.APPROVER_TECHNICAL, username="acme-technical"),
            "BUSINESS": member(tenant, Role.APPROVER_BUSINESS, username="acme-business"),
            "COMPLIANCE": member(tenant, Role.APPROVER_COMPLIANCE, username="acme-compliance"),
            "SECURITY": member(tenant, Role.APPROVER_SECURITY, username="acme-security"),
        },
        viewer=member(tenant, Role.VIEWER, username="acme-viewer"),
        other_tenant=other_tenant,
        other_admin=member(other_tenant, Role.ADMIN, username="globex-admin"),
    )
