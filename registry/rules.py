"""Who may do what in the registry: pure reads, shared by the services (which enforce them),
the API and the admin (which offer only what is allowed), and the transitions' ``permission=``.
"""

from __future__ import annotations

from ocx.core.access import approve_perm_for, has_perm


def may(perm: str):
    """A transition permission (django-fsm-2's ``permission=(instance, user) -> bool``): the user
    holds ``perm`` in the row's tenant."""

    def check(instance, user) -> bool:
        return has_perm(user, instance.tenant_id, perm)

    check.__name__ = f"may_{perm.lower()}"
    return check


def can_decide(user, approval, activity) -> tuple[bool, str]:
    """Whether ``user`` may decide ``approval`` of ``activity``, and if not, why: nobody decides
    an approval of an activity they created (separation of duties), and each approval type needs
    its approver role."""
    if activity.created_by_id == user.pk:
        return False, "Separation of duties: you cannot approve an activity you created."
    if not has_perm(user, activity.tenant_id, approve_perm_for(approval.approval_type)):
        return (
            False,
            f"Deciding a {approval.approval_type} approval needs the {approval.approval_type.lower()} approver role.",
        )
    return True, ""


def may_decide(approval, user) -> bool:
    """The permission of an approval's grant and reject transitions."""
    return can_decide(user, approval, approval.activity)[0]


def can_suspend(activity) -> tuple[bool, str]:
    """An emergency suspension stops something live: the activity needs an active or pending
    deployment (an approved activity never deployed has nothing to stop; retire it instead).
    Checked by ``activity_suspend`` before it ends anything, and by the admin's button."""
    if activity.deployments.filter(status__in=("ACTIVE", "PENDING")).exists():
        return True, ""
    return False, f"Activity {activity} has no active or pending deployment: there is nothing to suspend."
