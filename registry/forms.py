"""The admin's registry forms: the activity edit form, and one form per operation
(``ocx.core.admin_fsm``), built as ``Form(data, *, obj, user)``. An operation form's cleaned
data are its service's keyword arguments (``clean`` maps the fields a person fills in to them),
so the admin calls the service exactly as the API does."""

from __future__ import annotations

from django import forms
from django.contrib.admin import widgets
from django.core.validators import MaxLengthValidator
from django.utils import timezone

from ocx.core.access import Perm, has_perm
from ocx.core.models import Tenant
from registry import selectors
from registry.models import CONTENT_FIELDS, Activity, Approval, ApprovalStatus, Deployment, Environment, VersionType
from registry.services.activities import EBCL_SOURCE_MAX_LENGTH


def _text(required: bool = True, **kwargs):
    return forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), required=required, **kwargs)


class ApprovalChoiceField(forms.ModelChoiceField):
    """An approval named by its type and who was asked, never by its id."""

    def label_from_instance(self, obj):
        asked = f", asked of {obj.approver_id}" if obj.approver_id else ""
        return f"{obj.get_approval_type_display()} (round {obj.review_round}{asked})"


class DeploymentChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.environment} / {obj.target_tenant} (since {obj.effective_from:%Y-%m-%d %H:%M %Z})"


def _effective(help_text: str):
    """An effective date: the admin's date and time widgets, in the server's time zone."""
    return forms.SplitDateTimeField(required=False, widget=widgets.AdminSplitDateTime, help_text=help_text)


class ActivityForm(forms.ModelForm):
    class Meta:
        model = Activity
        fields = ["tenant", *CONTENT_FIELDS]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The service's cap, shown as a field error here instead of a refusal page.
        source = self.fields.get("ebcl_source")
        if source is not None:
            source.max_length = EBCL_SOURCE_MAX_LENGTH
            source.validators.append(MaxLengthValidator(EBCL_SOURCE_MAX_LENGTH))
            source.widget.attrs["maxlength"] = str(EBCL_SOURCE_MAX_LENGTH)

    def clean(self):
        data = super().clean()
        if self.instance.pk and self.instance.is_frozen:
            raise forms.ValidationError(
                f"This activity is {self.instance.status}: its content is frozen. Create a new version."
            )
        return data


class OperationForm(forms.Form):
    """An admin operation's form: knows the object it acts on and who acts."""

    def __init__(self, data=None, *, obj=None, user=None, **kwargs):
        super().__init__(data, **kwargs)
        self.obj, self.user = obj, user


class ReasonForm(OperationForm):
    reason = _text(required=False, help_text="Recorded in the history as the reason.")


class RequiredReasonForm(OperationForm):
    reason = _text(help_text="Required: recorded in the history and in the event as the reason.")


class RequestApprovalForm(OperationForm):
    comments = _text(
        required=False, help_text="Shown to the approvers; every required approval not yet asked for is requested."
    )


class DecideForm(OperationForm):
    """Decide one of the activity's pending approvals the user may decide."""

    approval = ApprovalChoiceField(
        queryset=Approval.unscoped.none(), empty_label=None, help_text="The approvals of this round you may decide."
    )
    decision = forms.ChoiceField(
        choices=[(ApprovalStatus.APPROVED, "Approve"), (ApprovalStatus.REJECTED, "Reject")], widget=forms.RadioSelect
    )
    comments = _text(required=False, help_text="Recorded with the decision and in the history.")

    def __init__(self, data=None, *, obj=None, user=None, **kwargs):
        super().__init__(data, obj=obj, user=user, **kwargs)
        self.fields["approval"].queryset = selectors.approvals_decidable(user=user, activity=obj)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        return {"approval_id": data["approval"].pk, "approval_status": data["decision"], "comments": data["comments"]}


class CommentsForm(OperationForm):
    """Approve or reject the approval the page is about (the transition names which)."""

    comments = _text(required=False, help_text="Recorded with the decision and in the history.")

    def clean(self):
        data = super().clean()
        return {**data, "activity_id": self.obj.activity_id}


def _deploy_tenants(user):
    tenants = Tenant.objects.all() if user.is_superuser else Tenant.objects.filter(memberships__user=user)
    return tenants.filter(pk__in=[t.pk for t in tenants if has_perm(user, t, Perm.DEPLOY_ACTIVITY)])


class DeployForm(OperationForm):
    environment = forms.ChoiceField(choices=Environment.choices)
    target_tenant = forms.ModelChoiceField(queryset=Tenant.objects.none(), empty_label=None, label="Tenant")
    deployment_notes = _text(required=False, help_text="Recorded with the deployment and in the history.")
    effective_from = _effective("Leave empty to deploy now.")
    effective_until = _effective("Leave empty for no end.")

    def __init__(self, data=None, *, obj=None, user=None, **kwargs):
        super().__init__(data, obj=obj, user=user, **kwargs)
        self.fields["target_tenant"].queryset = _deploy_tenants(user)
        zone = timezone.get_current_timezone_name()
        for name in ("effective_from", "effective_until"):
            self.fields[name].help_text = f"{self.fields[name].help_text} Date and time in {zone}."

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        return {**data, "target_tenant": data["target_tenant"].slug}


class RollbackForm(OperationForm):
    """Roll back one of the activity's active deployments (one that superseded another)."""

    deployment = DeploymentChoiceField(queryset=Deployment.unscoped.none(), empty_label=None)
    rollback_reason = _text(help_text="Required: recorded in the history as the reason.")

    def __init__(self, data=None, *, obj=None, user=None, **kwargs):
        super().__init__(data, obj=obj, user=user, **kwargs)
        self.fields["deployment"].queryset = selectors.deployments_rollbackable(activity=obj)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        return {"deployment_id": data["deployment"].pk, "rollback_reason": data["rollback_reason"]}


class RollbackReasonForm(OperationForm):
    """Roll back the deployment the page is about."""

    rollback_reason = _text(help_text="Required: recorded in the history as the reason.")

    def clean(self):
        data = super().clean()
        return {**data, "activity_id": self.obj.activity_id}


class NewVersionForm(OperationForm):
    version_type = forms.ChoiceField(choices=VersionType.choices)
    change_summary = _text(help_text="What changes in the new version; recorded in the history as the reason.")
    breaking_changes = _text(required=False, help_text="One per line.")

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        lines = [line.strip() for line in data["breaking_changes"].splitlines() if line.strip()]
        return {**data, "breaking_changes": lines}
