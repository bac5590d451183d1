"""Issue 14, in a real browser: an approval walked from request to deploy through the admin by its
author, four approvers and a deployer; the queue's Decide button clickable at 1280 px with the
sidebar open; a refused action shown as the admin's styled page with the reason; the dashboard
at 390 px without sideways page scroll."""

import pytest
from django.contrib.auth.models import Permission

from ocx.core.access import Role
from registry import services
from registry.models import ActivityStatus, ApprovalStatus, DeploymentStatus
from tests.browser.test_dashboard import in_thread, login
from tests.factories import member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

APPROVAL_TYPES = ("TECHNICAL", "BUSINESS", "COMPLIANCE", "SECURITY")
WAIT = 10_000


def _staff(tenant, role, username):
    user = member(tenant, role, username=username)
    user.is_staff = True
    user.save()
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="registry"))
    return user


@pytest.fixture
def people(tenant, settings):
    settings.OCX_REGISTRY_REQUIRED_APPROVALS = list(APPROVAL_TYPES)
    return {
        "author": _staff(tenant, Role.MEMBER, "author"),
        "deployer": _staff(tenant, Role.ADMIN, "deployer"),
        **{kind: _staff(tenant, getattr(Role, f"APPROVER_{kind}"), kind.lower()) for kind in APPROVAL_TYPES},
    }


def _as(page, base, username, next_url):
    page.context.clear_cookies()
    login(page, base, username, next_url=next_url)


def _no_page_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_four_approvers_take_an_activity_from_request_to_deploy_in_the_admin(asgi_server, page, tenant, people):
    activity = services.activity_create(
        tenant=tenant,
        actor=people["author"],
        name="PO_Approval",
        version="1.0.0",
        ebcl_source='ACTIVITY "PO_Approval"\n  WHEN amount > 100000 REQUIRE approval FROM "CFO"\n',
        owner="Finance Department",
        authority="Procurement Policy v3.2",
    )
    change = f"/admin/registry/activity/{activity.pk}/change/"
    # Every page of the walk (operation forms, date widgets, review) runs under the CSP cleanly.
    problems = []
    page.on("console", lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))

    # the author asks for every required approval
    _as(page, asgi_server, "author", change)
    page.click("text=Request approvals", timeout=WAIT)
    page.fill("textarea[name=comments]", "Quarterly PO rules")
    page.click("input[type=submit][value^='Confirm']")
    page.wait_for_selector("text=Approvals requested.", timeout=WAIT)
    assert page.is_visible("text=Request approvals") is False  # every type asked: not offered again

    # each approver decides from their own queue, seeing what they approve
    for kind in APPROVAL_TYPES:
        _as(page, asgi_server, kind.lower(), "/admin/registry/approval/")
        page.wait_for_selector("text=Waiting for me", timeout=WAIT)
        assert page.locator("a.ocx-decide").count() == 1
        page.click("a.ocx-decide")
        page.wait_for_selector("text=What is being approved: PO_Approval 1.0.0", timeout=WAIT)
        assert "Procurement Policy v3.2" in page.inner_text(".ocx-review")
        page.check("input[name=decision][value=APPROVED]")
        page.fill("textarea[name=comments]", f"{kind.title()} OK")
        page.click("input[type=submit][value^='Confirm']")
        page.wait_for_selector("text=Decision recorded.", timeout=WAIT)

    # the deployer deploys the approved activity
    _as(page, asgi_server, "deployer", change)
    page.click(".object-tools a:has-text('Deploy')", timeout=WAIT)
    page.wait_for_selector(".datetimeshortcuts", timeout=WAIT)  # the admin's date-time widgets ran
    page.select_option("select[name=environment]", "PROD")
    page.fill("textarea[name=deployment_notes]", "Go live")
    page.click("input[type=submit][value^='Confirm']")
    page.wait_for_selector("text=Deployed.", timeout=WAIT)

    activity.refresh_from_db()
    approvals = {a.approval_type: a for a in activity.approvals.all()}
    assert activity.status == ActivityStatus.ACTIVE
    assert {a.approval_status for a in approvals.values()} == {ApprovalStatus.APPROVED}
    assert approvals["SECURITY"].decision_comments == "Security OK"
    assert approvals["SECURITY"].decided_by == people["SECURITY"]
    deployment = activity.deployments.get()
    assert deployment.status == DeploymentStatus.ACTIVE and deployment.environment == "PROD"
    assert problems == []


def test_decide_is_clickable_at_1280_px_with_the_sidebar_open(asgi_server, page, tenant, people):
    long_name = "Quarterly_Procurement_Purchase_Order_Approval_For_Regional_Subsidiaries_With_Extra_Checks"
    activity = services.activity_create(
        tenant=tenant, actor=people["author"], name=long_name, version="10.20.30", ebcl_source="ACTIVITY x", owner="o"
    )
    services.activity_request_approval(tenant=tenant, actor=people["author"], activity_id=activity.pk)
    page.set_viewport_size({"width": 1280, "height": 800})

    login(page, asgi_server, "compliance", next_url="/admin/registry/approval/?queue=pending")
    page.wait_for_selector("#nav-sidebar", state="visible", timeout=WAIT)

    decide = page.locator("a.ocx-decide")
    assert decide.count() == 1
    decide.click(trial=True, timeout=WAIT)  # visible, enabled, not covered by anything
    box = decide.bounding_box()
    results = page.locator("#changelist .results").bounding_box()
    assert box["x"] + box["width"] <= min(1280, results["x"] + results["width"])
    assert page.evaluate(
        "(() => { const r = document.querySelector('.results'); return r.scrollWidth <= r.clientWidth; })()"
    )
    assert _no_page_scroll(page)
    title = page.locator(".field-activity_column .ocx-truncate").first.get_attribute("title")
    assert title.startswith(f"{long_name} 10.20.30 — review round 1")  # cut in the cell, whole in the tooltip
    decide.click()
    page.wait_for_selector("input[type=submit][value^='Confirm']", timeout=WAIT)


def test_a_refused_action_shows_the_admins_styled_page_with_the_reason(asgi_server, page, tenant, people):
    activity = services.activity_create(
        tenant=tenant, actor=people["author"], name="Mine", version="1.0.0", ebcl_source="ACTIVITY x", owner="o"
    )
    services.activity_request_approval(tenant=tenant, actor=people["author"], activity_id=activity.pk)

    login(page, asgi_server, "author", next_url=f"/admin/registry/activity/{activity.pk}/action/decide/")

    note = page.wait_for_selector(".errornote", timeout=WAIT)
    assert "Separation of duties: you cannot approve an activity you created." in note.inner_text()
    assert page.is_visible("#site-name") and "OCX" in page.inner_text("#site-name")
    styled = page.evaluate(
        "getComputedStyle(document.querySelector('#header')).backgroundColor !== 'rgba(0, 0, 0, 0)'"
        " && getComputedStyle(document.querySelector('.errornote')).borderTopStyle !== 'none'"
    )
    assert styled  # the admin's stylesheets are applied: not a bare "403 Forbidden"
    assert "403 Forbidden" not in page.inner_text("body")


def _publish_wide_events(tenant):
    from django.db import transaction

    from activity_feed.publish import publish

    with transaction.atomic():
        for n in range(3):
            publish(
                tenant=tenant,
                type="registry.activity.approved_with_a_rather_long_event_type_name",
                title=f"Quarterly_Procurement_Purchase_Order_Approval_For_Regional_Subsidiaries {n} approved",
            )


def test_the_dashboard_at_390_px_scrolls_tables_inside_their_card_not_the_page(asgi_server, page, tenant, people):
    in_thread(_publish_wide_events, tenant)
    page.set_viewport_size({"width": 390, "height": 844})

    login(page, asgi_server, "deployer", next_url="/")
    page.wait_for_selector("#events tbody tr[data-id]", timeout=WAIT)

    assert _no_page_scroll(page)
    assert page.evaluate(
        "(() => { const c = document.querySelector('.table-scroll'); return c.scrollWidth > c.clientWidth; })()"
    )  # the wide table scrolls inside its card
    assert page.is_visible("#pending-approvals")


def test_a_non_member_on_the_dashboard_gets_the_error_and_the_tenant_switcher(asgi_server, page, tenant, other_tenant):
    outsider = member(other_tenant, Role.ADMIN, username="outsider")
    outsider.is_staff = True
    outsider.save()

    login(page, asgi_server, "outsider", next_url="/?tenant=acme-corp")

    page.wait_for_selector("text=You are not a member of tenant 'acme-corp'.", timeout=WAIT)
    assert page.locator("#ws-status").count() == 0  # nothing "connecting…" for ever
    page.select_option("#tenant-switcher select", "globex")
    page.wait_for_selector("#ws-status[data-state=open]", timeout=WAIT)
    assert "Live events — Globex" in page.inner_text("main")
