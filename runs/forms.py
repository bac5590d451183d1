"""Forms of the admin's operations on runs and workspaces (each calls a runs service)."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from runs.models import WorkspaceRole


class _OperationForm(forms.Form):
    """``(data, *, obj, user)``: what ``ocx.core.admin_fsm`` passes an operation's form."""

    def __init__(self, data=None, *, obj=None, user=None, **kwargs):
        self.obj, self.user = obj, user
        super().__init__(data, **kwargs)


class ReasonForm(_OperationForm):
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class MemberAddForm(_OperationForm):
    user_id = forms.ModelChoiceField(queryset=get_user_model().objects.none(), label="User", empty_label=None)
    role = forms.ChoiceField(choices=WorkspaceRole.choices, initial=WorkspaceRole.MEMBER)
    department = forms.CharField(required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        members = get_user_model().objects.filter(memberships__tenant_id=self.obj.tenant_id).order_by("username")
        self.fields["user_id"].queryset = members.exclude(pk__in=self.obj.members.values("user_id"))

    def clean_user_id(self):
        return self.cleaned_data["user_id"].pk


class WorkUnitAddForm(_OperationForm):
    work_unit_id = forms.CharField(label="Work unit", help_text="A registry activity of the tenant: name or UUID.")
    delegation_id = forms.CharField(required=False, help_text="EATP trust reference.")
    department = forms.CharField(required=False)
