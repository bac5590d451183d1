"""Issue 14, "The approvers' admin": what each page shows an approver (names, not ids; the
content being approved; styled forms; times with their zone) and offers them (only what the
service would accept; Decide only where they may decide), and that what they type is the
history's change reason."""

import re

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from ocx.core.access import Role
from registry import services
from registry.forms import DecideForm, DeployForm
from registry.models import ActivityStatus, ApprovalStatus, Execution
from tests.factories import member

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@pytest.fixture
def staff(world):
    perms = Permission.objects.filter(content_type__app_label="registry")
    for user in [world.creator, world.admin, *world.approvers.values()]:
        user.is_staff = True
        user.save()
        user.user_permissions.set(perms)
    return world


def _labels(client, name, pk) -> set[str]:
    page = client.get(reverse(f"admin:registry_{name}_change", args=[pk]))
    assert page.status_code == 200
    return {label for label, _ in page.context["ocx_actions"]}


def _text(response) -> str:
    return response.content.decode()


# --- names, never raw ids ---------------------------------------------------------------------
def test_approvals_deployments_and_versions_are_named_by_activity_name_and_version(staff):
    activity = staff.active(name="PO_Approval")
    approval = activity.approvals.first()
    deployment = activity.deployments.get()
    new = services.activity_new_version(
        tenant=staff.tenant, actor=staff.creator, activity_id=activity.pk, version_type="MINOR", change_summary="x"
    )

    names = [str(approval), str(deployment), str(new.version_record)]

    assert names[0].endswith("approval of PO_Approval 1.0.0 (Approved)")
    assert names[1] == "PO_Approval 1.0.0 → PROD / acme-corp (Active)"
    assert names[2] == "PO_Approval 1.1.0"
    assert not any(UUID.search(name) for name in names)


def test_an_execution_is_named_by_its_activity_and_time(staff):
    activity = staff.active(name="PO_Approval")
    execution = Execution(activity=activity, outcome="SUCCESS", duration_ms=1)
    execution.executed_at = activity.created_at

    assert str(execution).startswith("PO_Approval 1.0.0 run at ") and "UTC" in str(execution)


def test_activity_page_inlines_and_the_approval_queue_show_no_raw_uuid(staff, client):
    activity = staff.active(name="PO_Approval")
    client.force_login(staff.admin)

    page = client.get(reverse("admin:registry_activity_change", args=[activity.pk]))
    queue = client.get(reverse("admin:registry_approval_changelist") + "?queue=all")
    deployments = client.get(reverse("admin:registry_deployment_changelist"))

    assert "Technical approval of PO_Approval 1.0.0 (Approved)" in _text(page)
    assert "PO_Approval 1.0.0 → PROD / acme-corp (Active)" in _text(page)
    for response in (queue, deployments):
        visible = re.sub(r'(href|value|name|id|for)="[^"]*"', "", _text(response))
        assert "PO_Approval 1.0.0" in visible and not UUID.search(visible)


def test_the_decide_form_lists_approvals_by_type_not_by_id(staff):
    activity = staff.create()
    staff.request_all(activity)

    form = DecideForm(obj=staff.reload(activity), user=staff.approvers["SECURITY"])

    assert [label for _, label in form.fields["approval"].choices] == ["Security (round 1)"]


# --- the queue: Decide where the user may decide ------------------------------------------------
def test_all_pending_shows_decide_only_on_the_approvals_the_user_may_decide(staff, client):
    activity = staff.create(name="Queued")
    staff.request_all(activity)
    client.force_login(staff.approvers["COMPLIANCE"])

    response = client.get(reverse("admin:registry_approval_changelist") + "?queue=pending")

    rows = re.findall(r"<tr>.*?</tr>", _text(response), flags=re.S)
    rows = [row for row in rows if "field-activity_column" in row]
    with_decide = [row for row in rows if "ocx-decide" in row]
    assert len(rows) == 4  # every pending approval is listed …
    assert len(with_decide) == 1 and "Compliance" in with_decide[0]  # … Decide only on the user's own


def test_the_creator_sees_no_decide_button_on_any_pending_approval(staff, client):
    activity = staff.create()
    staff.request_all(activity)
    client.force_login(staff.creator)

    response = client.get(reverse("admin:registry_approval_changelist") + "?queue=pending")

    assert response.context["cl"].result_count == 4 and "ocx-decide" not in _text(response)


def test_the_queue_shows_status_badges_and_times_with_their_zone(staff, client):
    activity = staff.create()
    staff.request_all(activity)
    client.force_login(staff.approvers["TECHNICAL"])

    response = client.get(reverse("admin:registry_approval_changelist"))

    assert '<span class="ocx-status ocx-status-pending">Pending</span>' in _text(response)
    assert re.search(r"field-requested_column[^>]*>\d{4}-\d\d-\d\d \d\d:\d\d UTC<", _text(response))


# --- refused actions --------------------------------------------------------------------------
def test_a_refused_action_is_a_styled_admin_page_with_the_reason(staff, client):
    activity = staff.create()
    staff.request_all(activity)
    client.force_login(staff.creator)

    response = client.get(reverse("admin:registry_activity_action", args=[activity.pk, "decide"]))

    assert response.status_code == 403
    assert "admin/ocx/refused.html" in [t.name for t in response.templates]
    assert "Separation of duties: you cannot approve an activity you created." in _text(response)
    assert 'id="site-name"' in _text(response)  # the admin's own page, not a bare "403 Forbidden"


def test_a_refused_approval_page_action_names_the_missing_role(staff, client):
    activity = staff.create()
    _, approvals = staff.request_all(activity)
    security = next(a for a in approvals if a.approval_type == "SECURITY")
    client.force_login(staff.approvers["TECHNICAL"])

    response = client.post(reverse("admin:registry_approval_action", args=[security.pk, "approve"]), {})

    assert response.status_code == 403
    assert "needs the security approver role" in _text(response)
    security.refresh_from_db()
    assert security.approval_status == ApprovalStatus.PENDING


# --- what is being approved -------------------------------------------------------------------
def test_the_decide_page_shows_the_content_the_diff_and_the_round(staff, client):
    v1 = staff.active(name="PO_Approval")
    v2 = services.activity_new_version(
        tenant=staff.tenant, actor=staff.creator, activity_id=v1.pk, version_type="MINOR", change_summary="raise"
    )
    services.activity_update(
        tenant=staff.tenant,
        actor=staff.creator,
        activity_id=v2.pk,
        ebcl_source='ACTIVITY "PO_Approval"\n  WHEN amount > 250000 REQUIRE approval FROM "CFO"\n',
    )
    _, approvals = staff.request_all(v2)
    staff.decide(v2, next(a for a in approvals if a.approval_type == "BUSINESS"), comments="fine by finance")
    client.force_login(staff.approvers["TECHNICAL"])

    page = client.get(reverse("admin:registry_activity_action", args=[v2.pk, "decide"]))

    text = _text(page)
    assert page.status_code == 200
    assert "Finance Department" in text and "Procurement Policy v3.2" in text  # owner, authority
    assert "Purchase order approval workflow" in text  # description
    assert "WHEN amount &gt; 250000" in text  # the source
    assert "Changes since PO_Approval 1.0.0" in text
    assert '<span class="ocx-diff-del">-  WHEN amount &gt; 100000' in text
    assert '<span class="ocx-diff-add">+  WHEN amount &gt; 250000' in text
    round_table = text[text.index("Approvals of review round") :]
    assert "fine by finance" in round_table and "ocx-status-approved" in round_table
    assert round_table.count("ocx-status-pending") == 3


def test_the_first_version_says_there_is_nothing_to_compare(staff, client):
    activity = staff.create(name="Fresh")
    _, approvals = staff.request_all(activity)
    client.force_login(staff.approvers["SECURITY"])

    security = next(a for a in approvals if a.approval_type == "SECURITY")
    page = client.get(reverse("admin:registry_approval_action", args=[security.pk, "approve"]))

    assert page.status_code == 200
    assert "The first version of Fresh: nothing to compare with." in _text(page)
    assert 'class="ocx-current"' in _text(page)  # the approval being decided, highlighted


# --- forms styled like the admin's ------------------------------------------------------------
def test_action_forms_have_aligned_rows_help_under_the_field_and_admin_datetime_widgets(staff, client):
    activity = staff.approved()
    client.force_login(staff.admin)

    page = client.get(reverse("admin:registry_activity_action", args=[activity.pk, "deploy"]))

    text = _text(page)
    assert 'class="module aligned"' in text and 'class="form-row field-effective_from"' in text
    assert re.search(
        r'field-effective_from.*?<div class="help"[^>]*><div>Leave empty to deploy now\. Date and '
        r"time in UTC\.</div>",
        text,
        flags=re.S,
    )
    assert 'class="vDateField"' in text and 'class="vTimeField"' in text
    assert "admin/js/admin/DateTimeShortcuts.js" in text and "admin/css/forms.css" in text


def test_the_deploy_form_takes_the_split_date_and_time_in_the_server_zone(staff):
    activity = staff.approved()

    form = DeployForm(
        {
            "environment": "PROD",
            "target_tenant": staff.tenant.pk,
            "effective_from_0": "2030-01-02",
            "effective_from_1": "08:30",
        },
        obj=activity,
        user=staff.admin,
    )

    assert form.is_valid(), form.errors
    assert form.cleaned_data["effective_from"].isoformat() == "2030-01-02T08:30:00+00:00"


# --- only what the service would accept -------------------------------------------------------
def test_request_approvals_is_gone_in_review_once_every_required_type_is_asked(staff, client):
    activity = staff.create()
    client.force_login(staff.creator)
    assert "Request approvals" in _labels(client, "activity", activity.pk)

    staff.request_all(activity)

    assert "Request approvals" not in _labels(client, "activity", activity.pk)
    url = reverse("admin:registry_activity_action", args=[activity.pk, "request-approval"])
    refused = client.post(url, {"comments": "again"})
    assert refused.status_code == 403 and "was already requested" in _text(refused)


def test_request_approvals_stays_in_review_while_a_required_type_is_not_asked(staff, client, settings):
    activity = staff.create()
    services.activity_request_approval(
        tenant=staff.tenant, actor=staff.creator, activity_id=activity.pk, approval_type="TECHNICAL"
    )
    client.force_login(staff.creator)

    assert "Request approvals" in _labels(client, "activity", activity.pk)


def test_a_draft_offers_delete_not_retire(staff, client):
    activity = staff.create()
    client.force_login(staff.admin)

    page = client.get(reverse("admin:registry_activity_change", args=[activity.pk]))

    assert "Retire" not in {label for label, _ in page.context["ocx_actions"]}
    assert page.context["has_delete_permission"] and "deletelink" in _text(page)


def test_suspend_is_offered_only_with_a_live_deployment_and_the_service_agrees(staff, client):
    approved = staff.approved()
    live = staff.active()
    client.force_login(staff.admin)

    assert "Suspend (emergency)" not in _labels(client, "activity", approved.pk)
    assert "Suspend (emergency)" in _labels(client, "activity", live.pk)
    refused = client.post(reverse("admin:registry_activity_action", args=[approved.pk, "suspend"]), {"reason": "x"})
    assert refused.status_code == 403 and "nothing to suspend" in _text(refused)
    from ocx.core import errors

    with pytest.raises(errors.InvalidTransition, match="nothing to suspend"):
        services.activity_suspend(tenant=staff.tenant, actor=staff.admin, activity_id=approved.pk, reason="x")
    assert staff.reload(approved).status == ActivityStatus.APPROVED


def test_a_frozen_activity_has_no_save_buttons_but_a_draft_has(staff, client):
    frozen = staff.approved()
    draft = staff.create()
    client.force_login(staff.admin)

    frozen_page = _text(client.get(reverse("admin:registry_activity_change", args=[frozen.pk])))
    draft_page = _text(client.get(reverse("admin:registry_activity_change", args=[draft.pk])))

    assert 'name="_save"' not in frozen_page and 'name="_continue"' not in frozen_page
    assert 'name="_addanother"' not in frozen_page
    assert 'name="_save"' in draft_page


# --- what a person types is the history's change reason ---------------------------------------
def test_comments_typed_into_action_forms_are_the_history_change_reason(staff, client):
    activity = staff.create()
    client.force_login(staff.creator)
    client.post(
        reverse("admin:registry_activity_action", args=[activity.pk, "request-approval"]), {"comments": "please"}
    )
    approvals = list(activity.approvals.all())
    technical = next(a for a in approvals if a.approval_type == "TECHNICAL")
    client.force_login(staff.approvers["TECHNICAL"])
    client.post(reverse("admin:registry_approval_action", args=[technical.pk, "approve"]), {"comments": "LGTM"})
    for approval in approvals:
        if approval.pk != technical.pk:
            staff.decide(activity, approval)
    client.force_login(staff.admin)
    client.post(
        reverse("admin:registry_activity_action", args=[activity.pk, "deploy"]),
        {"environment": "PROD", "target_tenant": staff.tenant.pk, "deployment_notes": "go live"},
    )

    activity = staff.reload(activity)
    review = activity.history.filter(status=ActivityStatus.REVIEW).get()
    granted = technical.history.filter(approval_status=ApprovalStatus.APPROVED).get()
    deployed = activity.deployments.get().history.order_by("history_id")
    assert review.history_change_reason == "please"
    assert granted.history_change_reason == "LGTM"
    assert {h.history_change_reason for h in deployed} == {"go live"}


def test_the_history_page_shows_a_dash_for_no_reason_and_times_with_their_zone(staff, client):
    activity = staff.create()
    client.force_login(staff.admin)

    page = client.get(reverse("admin:registry_activity_history", args=[activity.pk]))

    assert page.status_code == 200
    assert ">None<" not in _text(page).replace(" ", "").replace("\n", "") or "—" in _text(page)
    assert "<td>—</td>" in _text(page)
    assert re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</td>", _text(page))


# --- tenants ----------------------------------------------------------------------------------
def test_a_users_only_tenant_is_preselected_in_the_add_form(staff, client):
    client.force_login(staff.creator)

    page = client.get(reverse("admin:registry_activity_add"))

    field = page.context["adminform"].form.fields["tenant"]
    assert field.initial == staff.tenant.pk
    assert re.search(rf'<option value="{staff.tenant.pk}" selected>', _text(page))


def test_a_user_of_two_tenants_chooses_and_filters_list_only_their_tenants(staff, client, db):
    from tests.factories import TenantFactory

    third = TenantFactory(slug="initech", name="Initech")
    member(third, Role.ADMIN, username="initech-admin")
    services.activity_create(
        tenant=third, actor=third.memberships.get().user, name="Theirs", version="1.0.0", ebcl_source="x", owner="o"
    )
    user = staff.admin
    from ocx.core.models import Membership

    Membership.objects.create(user=user, tenant=staff.other_tenant, role=Role.ADMIN)
    client.force_login(user)

    add = client.get(reverse("admin:registry_activity_add"))
    changelist = client.get(reverse("admin:registry_activity_changelist"))
    deployments = client.get(reverse("admin:registry_deployment_changelist"))

    assert add.context["adminform"].form.fields["tenant"].initial is None
    tenant_filter = _text(changelist)[_text(changelist).index('data-filter-title="tenant"') :]
    tenant_filter = tenant_filter[: tenant_filter.index("</details>")]
    assert "acme-corp" in tenant_filter and "globex" in tenant_filter and "initech" not in tenant_filter
    assert "initech" not in _text(deployments)
