"""One admin mixin for every state machine: buttons drawn from the declared transitions, each
running the app's service (never the transition method), so a person in the admin obeys exactly
the rules an API client does (permissions, guards, history, events).

A transition offers itself in the admin through its ``custom`` properties::

    @transition(field=status, source=S.ACTIVE, target=S.SUSPENDED,
                permission=may(Perm.SUSPEND_ACTIVITY),
                custom={"label": "Suspend (emergency)", "form": "registry.forms.RequiredReasonForm",
                        "service": "registry.services.activity_suspend", "slug": "suspend"})

- ``label``: the button; ``slug``: its URL part (default: the method name with dashes);
- ``service``: dotted path of the service, called as ``service(tenant=…, actor=user,
  <id_kwarg>=obj.pk, **form.cleaned_data)``; ``id_kwarg`` defaults to the model's pk name;
  ``target_kwarg`` (e.g. ``"target_state"``) also passes the transition's target;
- ``form``: dotted path of a form class taking ``(data, *, obj, user)``; none: a confirmation;
  what the person types as the why (the form's ``reason_field``, else its ``reason``,
  ``comments``, ``…_reason``, ``…_comments`` or ``…_notes`` field) becomes the change reason of
  every history row the service writes;
- ``admin``: False hides a transition the system takes by itself.

A button shows when the transition's guards pass (``can_proceed``) and the user holds its
``permission`` (django-fsm-2's ``has_transition_perm``): the same guards the service runs, so
the admin offers only what the service would accept. Operations that are not transitions of
the model itself (deciding one of its approvals, making a new version) are declared on the admin
as ``extra_operations`` with the same fields; their ``allowed(user, obj)`` returns a bool, or a
``(bool, reason)`` pair whose reason the refusal page shows.

An operation refused anyway (a stale page, a typed URL) is the admin's own styled page naming
the reason (``PermissionDenied`` with the reason, drawn by ``ocx.admin.permission_denied``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.module_loading import import_string
from django_fsm import can_proceed, has_transition_perm

from ocx.core import errors, fsm
from ocx.core.audit import change_reason

#: Free-text fields whose value is the why of an operation (first non-empty wins).
REASON_FIELDS = ("reason", "comments", "rollback_reason", "decision_comments", "notes", "change_summary")
REASON_SUFFIXES = ("_reason", "_comments", "_notes")


def typed_reason(form, data: dict) -> str | None:
    """What the person typed as the reason of an operation: the form's ``reason_field`` when it
    names one, else the first non-empty free-text field of a known name."""
    declared = getattr(form, "reason_field", None)
    names = [declared] if declared else [*REASON_FIELDS, *sorted(k for k in data if k.endswith(REASON_SUFFIXES))]
    for name in names:
        value = data.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def status_badge(value: str, label: str):
    """A state as a coloured badge (``static/ocx/admin.css`` colours ``ocx-status-<state>``)."""
    return format_html('<span class="ocx-status ocx-status-{}">{}</span>', str(value).lower(), label)


def truncated(text: str, *, title: str | None = None):
    """A long list value cut with an ellipsis by CSS, the whole value (or ``title``) in its
    tooltip."""
    return format_html('<span class="ocx-truncate" title="{}">{}</span>', title or text, text)


def _verdict(result) -> tuple[bool, str]:
    """An ``allowed`` result (a bool, or a ``(bool, reason)`` pair) as a pair."""
    if isinstance(result, tuple):
        return bool(result[0]), str(result[1] or "")
    return bool(result), ""


class ConfirmForm(forms.Form):
    """No input: the operation only asks for a confirmation."""

    def __init__(self, data=None, *, obj=None, user=None, **kwargs):
        super().__init__(data, **kwargs)


@dataclass
class Operation:
    """One thing a person can do to an object from its change page."""

    slug: str
    label: str
    service: str | Any
    form: str | type | None = None
    id_kwarg: str | None = None
    arguments: dict = field(default_factory=dict)  # passed to the service as they are
    done: str = ""
    redirect_to_result: bool = False
    allowed: Any = None  # callable(user, obj) -> bool, for extra operations
    edge: fsm.Edge | None = None

    @classmethod
    def from_edge(cls, edge: fsm.Edge) -> Operation:
        options = edge.options
        arguments = dict(options.get("arguments", {}))
        if options.get("target_kwarg"):
            arguments[options["target_kwarg"]] = edge.target
        return cls(
            slug=options.get("slug", edge.name.replace("_", "-")),
            label=options.get("label", edge.name),
            service=options["service"],
            form=options.get("form"),
            id_kwarg=options.get("id_kwarg"),
            arguments=arguments,
            done=options.get("done", ""),
            redirect_to_result=options.get("redirect_to_result", False),
            edge=edge,
        )

    def form_class(self):
        if self.form is None:
            return ConfirmForm
        return import_string(self.form) if isinstance(self.form, str) else self.form

    def service_function(self):
        return import_string(self.service) if isinstance(self.service, str) else self.service


class FSMTransitionAdminMixin:
    """Transition buttons on the change page (``ocx_actions``: ``(label, url)`` pairs), a form
    page per operation at ``<pk>/action/<slug>/`` and, for machines whose targets are unique
    per state, ``<pk>/transition/<target>/`` (POST; a transition that is not declared from the
    current state, or whose guard refuses, comes back as a message naming why)."""

    change_form_template = "admin/ocx/fsm_change_form.html"
    # simple-history's list, with an empty change reason shown as a dash (not "None") and
    # times with their time zone.
    object_history_list_template = "admin/ocx/object_history_list.html"
    extra_operations: tuple[Operation, ...] = ()
    fsm_label_shows_target = False  # "Start work → in_progress"
    fsm_entity_type: str | None = None  # what INVALID_TRANSITION names (default: model name)

    # --- which operations -------------------------------------------------------------------
    def fsm_operations(self, obj) -> list[Operation]:
        """Every operation of the object's current state, in declaration order."""
        state = fsm.state_of(obj)
        declared = [
            Operation.from_edge(edge)
            for edge in fsm.edges(type(obj))
            if edge.source == state and edge.options.get("service") and edge.options.get("admin", True)
        ]
        return [*declared, *self.extra_operations]

    def fsm_allowed(self, request, obj, operation: Operation) -> bool:
        return self.fsm_refusal(request, obj, operation) is None

    def fsm_refusal(self, request, obj, operation: Operation) -> str | None:
        """Why ``operation`` is refused to the user on ``obj`` (None: it is allowed), from the
        guards the service runs: the transition's conditions and permission, or ``allowed``."""
        if operation.edge is not None:
            method = getattr(obj, operation.edge.name)
            if not can_proceed(method):
                failed = fsm.failed_conditions(obj, operation.edge)
                rules = "; ".join(fsm.rule_text(c) for c in failed)
                return rules or f"{operation.label} is not possible in state {fsm.state_of(obj)}."
            if not has_transition_perm(method, request.user):
                return self.fsm_permission_refusal(request, obj, operation)
        if operation.allowed is None:
            return None
        allowed, why = _verdict(operation.allowed(request.user, obj))
        if allowed:
            return None
        return why or f"{operation.label} is not available to you for this {self._entity_label()}."

    def fsm_permission_refusal(self, request, obj, operation: Operation) -> str:
        """The reason shown when the user lacks a transition's permission (admins name the
        business rule where they know it better)."""
        return f"You do not hold the permission to {operation.label.lower()} this {self._entity_label()}."

    def _entity_label(self) -> str:
        return str(self.model._meta.verbose_name)

    def fsm_available(self, request, obj) -> list[Operation]:
        return [op for op in self.fsm_operations(obj) if self.fsm_allowed(request, obj, op)]

    def fsm_label(self, operation: Operation) -> str:
        if self.fsm_label_shows_target and operation.edge is not None:
            return f"{operation.label} → {operation.edge.target}"
        return operation.label

    # --- URLs and views ---------------------------------------------------------------------
    def _info(self):
        return self.model._meta.app_label, self.model._meta.model_name

    def get_urls(self):
        info = self._info()
        return [
            path(
                "<path:object_id>/action/<slug:slug>/",
                self.admin_site.admin_view(self.operation_view),
                name="{}_{}_action".format(*info),
            ),
            path(
                "<path:object_id>/transition/<str:target>/",
                self.admin_site.admin_view(self.transition_view),
                name="{}_{}_transition".format(*info),
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        obj = self.get_object(request, object_id)
        if obj is not None:
            extra_context["ocx_actions"] = [
                (self.fsm_label(op), reverse("admin:{}_{}_action".format(*self._info()), args=[obj.pk, op.slug]))
                for op in self.fsm_available(request, obj)
            ]
        return super().change_view(request, object_id, form_url, extra_context)

    def _object_or_404(self, request, object_id):
        obj = self.get_object(request, object_id)
        if obj is None:
            raise Http404("Not found.")
        return obj

    def _change_url(self, obj):
        return reverse("admin:{}_{}_change".format(*self._info()), args=[obj.pk])

    def transition_view(self, request, object_id, target):
        """POST: take the transition to ``target`` from the current state, through its service."""
        if request.method != "POST":
            from django.http import HttpResponseNotAllowed

            return HttpResponseNotAllowed(["POST"])
        obj = self._object_or_404(request, object_id)
        operation = next(
            (op for op in self.fsm_operations(obj) if op.edge is not None and op.edge.target == target), None
        )
        if operation is None:
            self.message_user(request, self._invalid(obj, target).message, messages.ERROR)
            return HttpResponseRedirect(self._change_url(obj))
        if operation.edge is not None and not can_proceed(getattr(obj, operation.edge.name)):
            # A guard refuses (a stale page, say): tell the person why, as the API tells a client.
            try:
                fsm.resolve(obj, entity_type=self._entity_type(), name=operation.edge.name)
            except errors.InvalidTransition as exc:
                self.message_user(request, exc.message, messages.ERROR)
                return HttpResponseRedirect(self._change_url(obj))
        return self.operation_view(request, object_id, operation.slug, obj=obj)

    def _entity_type(self) -> str:
        return self.fsm_entity_type or self.model.__name__

    def _invalid(self, obj, target: str) -> errors.InvalidTransition:
        return errors.InvalidTransition(
            current_state=fsm.state_of(obj),
            target_state=target,
            entity_type=self._entity_type(),
        )

    def operation_view(self, request, object_id, slug, obj=None):
        obj = obj or self._object_or_404(request, object_id)
        operation = next((op for op in self.fsm_operations(obj) if op.slug == slug), None)
        if operation is None:
            raise Http404("No such action for this object in its current state.")
        refused = self.fsm_refusal(request, obj, operation)
        if refused is not None:
            raise DjangoPermissionDenied(refused)
        form_class = operation.form_class()
        data = request.POST if request.method == "POST" else None
        form = form_class(data, obj=obj, user=request.user)
        if data is None:
            form.initial.update({k: v for k, v in request.GET.items() if k in form.fields})
        if data is not None and form.is_valid():
            try:
                with change_reason(typed_reason(form, form.cleaned_data)):
                    result = self.fsm_run(request, obj, operation, form.cleaned_data)
            except errors.ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                if isinstance(form, ConfirmForm):
                    return HttpResponseRedirect(self._change_url(obj))
            else:
                label = self.fsm_label(operation)
                self.message_user(request, operation.done or f"{obj}: {label}.", messages.SUCCESS)
                target = result[0] if isinstance(result, tuple) else result
                if operation.redirect_to_result and getattr(target, "pk", None) is not None:
                    return HttpResponseRedirect(self._change_url(target))
                return HttpResponseRedirect(self._change_url(obj))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": obj,
            "title": f"{operation.label}: {obj}",
            "form": form,
            "action_label": operation.label,
            "change_url": self._change_url(obj),
            "media": self.media + form.media,
            "timezone_name": timezone.get_current_timezone_name(),
            **self.fsm_operation_context(request, obj, operation),
        }
        app_label, model_name = self._info()
        templates = [f"admin/{app_label}/{model_name}/operation.html", "admin/ocx/operation.html"]
        return TemplateResponse(request, templates, context)

    def fsm_operation_context(self, request, obj, operation: Operation) -> dict:
        """Extra context for an operation's page (what the person is deciding on)."""
        return {}

    def fsm_run(self, request, obj, operation: Operation, data: dict):
        """Call the operation's service as the logged-in user (inside the change reason the
        operation view opened from the form: every history row the service writes names it)."""
        kwargs = {
            "tenant": obj.tenant_id,
            "actor": request.user,
            (operation.id_kwarg or self.model._meta.pk.attname): obj.pk,
            **operation.arguments,
            **data,
        }
        return operation.service_function()(**kwargs)
