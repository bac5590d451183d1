"""An approver works their queue in the admin, in a real browser: logs in, opens the approval
queue, decides the approval with a comment, and sees the activity approved."""

import pytest
from django.contrib.auth.models import Permission

from ocx.core.access import Role
from registry import services
from registry.models import ActivityStatus, ApprovalStatus
from tests.browser.test_dashboard import login
from tests.factories import member

pytestmark = pytest.mark.browser


def test_approver_decides_from_the_queue_and_the_activity_becomes_approved(asgi_server, page, tenant, settings):
    settings.OCX_REGISTRY_REQUIRED_APPROVALS = ["COMPLIANCE"]
    creator = member(tenant, Role.MEMBER, username="author")
    approver = member(tenant, Role.APPROVER_COMPLIANCE, username="compliance")
    approver.is_staff = True
    approver.save()
    approver.user_permissions.set(Permission.objects.filter(content_type__app_label="registry"))
    activity = services.activity_create(
        tenant=tenant, actor=creator, name="PO_Approval", version="1.0.0", ebcl_source="ACTIVITY x", owner="Finance"
    )
    services.activity_request_approval(
        tenant=tenant, actor=creator, activity_id=activity.pk, approval_type="COMPLIANCE"
    )

    login(page, asgi_server, "compliance", next_url="/admin/registry/approval/")
    page.wait_for_selector("text=Waiting for me", timeout=10_000)
    page.click("a.button:has-text('Decide')")
    page.wait_for_selector("input[type=submit][value^='Confirm']", timeout=10_000)
    page.check("input[name=decision][value=APPROVED]")
    page.fill("textarea[name=comments]", "SOX compliant. Approved.")
    page.click("input[type=submit][value^='Confirm']")
    page.wait_for_selector("text=Decision recorded.", timeout=10_000)

    activity.refresh_from_db()
    approval = activity.approvals.get()
    assert activity.status == ActivityStatus.APPROVED
    assert (
        approval.approval_status == ApprovalStatus.APPROVED and approval.decision_comments == "SOX compliant. Approved."
    )
    assert "Approved" in page.inner_text("body")
