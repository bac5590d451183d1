"""The admin's registry forms: the activity edit form, and one form per operation
(``ocx.core.admin_fsm``), built as ``Form(data, *, obj, user)``. An operation form's cleaned
data are its service's keyword arguments (``clean`` maps the fields a person fills in to them),
so the admin calls the service exactly as the API does."""

from __future__ import annotations

from django import forms

from ocx.core.access import Perm, has_perm
from ocx.core.models import Tenant
from registry import selectors
from registry.models import CONTENT_FIELDS, Activity, Approval, ApprovalStatus, Deployment, Environment, VersionType


def _text(required: bool = True, **kwargs):
    return forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=required, **kwargs)


class ActivityForm(forms.ModelForm):
    class Meta:
        model = Activity
        fields = ["tenant", *CONTENT_FIELDS]

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
    reason = _text(required=False)


class RequiredReasonForm(OperationForm):
    reason = _text()


class RequestApprovalForm(OperationForm):
    comments = _text(required=False)


class DecideForm(OperationForm):
    """Decide one of the activity's pending approvals the user may decide."""

    approval = forms.ModelChoiceField(queryset=Approval.unscoped.none(), empty_label=None)
    decision = forms.ChoiceField(
        choices=[(ApprovalStatus.APPROVED, "Approve"), (ApprovalStatus.REJECTED, "Reject")], widget=forms.RadioSelect
    )
    comments = _text(required=False)

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

    comments = _text(required=False)

    def clean(self):
        data = super().clean()
        return {**data, "activity_id": self.obj.activity_id}


def _deploy_tenants(user):
    tenants = Tenant.objects.all() if user.is_superuser else Tenant.objects.filter(memberships__user=user)
    return tenants.filter(pk__in=[t.pk for t in tenants if has_perm(user, t, Perm.DEPLOY_ACTIVITY)])


class DeployForm(OperationForm):
    environment = forms.ChoiceField(choices=Environment.choices)
    target_tenant = forms.ModelChoiceField(queryset=Tenant.objects.none(), empty_label=None, label="Tenant")
    deployment_notes = _text(required=False)
    effective_from = forms.DateTimeField(required=False, help_text="Leave empty to deploy now.")
    effective_until = forms.DateTimeField(required=False)

    def __init__(self, data=None, *, obj=None, user=None, **kwargs):
        super().__init__(data, obj=obj, user=user, **kwargs)
        self.fields["target_tenant"].queryset = _deploy_tenants(user)

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        return {**data, "target_tenant": data["target_tenant"].slug}


class RollbackForm(OperationForm):
    """Roll back one of the activity's active deployments (one that superseded another)."""

    deployment = forms.ModelChoiceField(queryset=Deployment.unscoped.none(), empty_label=None)
    rollback_reason = _text()

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

    rollback_reason = _text()

    def clean(self):
        data = super().clean()
        return {**data, "activity_id": self.obj.activity_id}


class NewVersionForm(OperationForm):
    version_type = forms.ChoiceField(choices=VersionType.choices)
    change_summary = _text()
    breaking_changes = _text(required=False, help_text="One per line.")

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        lines = [line.strip() for line in data["breaking_changes"].splitlines() if line.strip()]
        return {**data, "breaking_changes": lines}
