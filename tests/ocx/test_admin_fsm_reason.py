"""The FSM admin mixin (every app's buttons): what a person types into an operation's form is the
change reason of the history rows its service writes, whatever the field is called."""

from django import forms

from ocx.core.admin_fsm import typed_reason


class Plain(forms.Form):
    pass


class Declared(forms.Form):
    reason_field = "verdict"


def test_the_first_non_empty_reason_like_field_is_the_reason():
    assert typed_reason(Plain(), {"reason": "", "comments": " LGTM "}) == "LGTM"
    assert typed_reason(Plain(), {"rollback_reason": "bug", "other": "x"}) == "bug"
    assert typed_reason(Plain(), {"environment": "PROD", "deployment_notes": "go live"}) == "go live"
    assert typed_reason(Plain(), {"change_summary": "new rules", "version_type": "MAJOR"}) == "new rules"


def test_a_form_may_name_its_reason_field():
    assert typed_reason(Declared(), {"verdict": "fine", "comments": "ignored"}) == "fine"


def test_nothing_typed_is_no_reason():
    assert typed_reason(Plain(), {"reason": "  ", "environment": "PROD"}) is None
    assert typed_reason(Plain(), {}) is None
