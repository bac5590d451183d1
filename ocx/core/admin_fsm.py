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
  a ``reason`` or ``comments`` field becomes the history row's change reason;
- ``admin``: False hides a transition the system takes by itself.

A button shows when the transition's guards pass (``can_proceed``) and the user holds its
``permission`` (django-fsm-2's ``has_transition_perm``). Operations that are not transitions
of the model itself (deciding one of its approvals, making a new version) are declared on the
admin as ``extra_operations`` with the same fields.
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
from django.utils.module_loading import import_string
from django_fsm import can_proceed, has_transition_perm

from ocx.core import errors, fsm
from ocx.core.audit import change_reason


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
        if operation.edge is not None:
            method = getattr(obj, operation.edge.name)
            if not (can_proceed(method) and has_transition_perm(method, request.user)):
                return False
            return operation.allowed is None or operation.allowed(request.user, obj)
        return operation.allowed is None or bool(operation.allowed(request.user, obj))

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
        if not self.fsm_allowed(request, obj, operation):
            raise DjangoPermissionDenied("This action is not available to you for this object.")
        form_class = operation.form_class()
        data = request.POST if request.method == "POST" else None
        form = form_class(data, obj=obj, user=request.user)
        if data is None:
            form.initial.update({k: v for k, v in request.GET.items() if k in form.fields})
        if data is not None and form.is_valid():
            try:
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
            **self.fsm_operation_context(request, obj, operation),
        }
        app_label, model_name = self._info()
        templates = [f"admin/{app_label}/{model_name}/operation.html", "admin/ocx/operation.html"]
        return TemplateResponse(request, templates, context)

    def fsm_operation_context(self, request, obj, operation: Operation) -> dict:
        """Extra context for an operation's page (what the person is deciding on)."""
        return {}

    def fsm_run(self, request, obj, operation: Operation, data: dict):
        """Call the operation's service as the logged-in user; a typed reason or comment is
        the history row's change reason."""
        kwargs = {
            "tenant": obj.tenant_id,
            "actor": request.user,
            (operation.id_kwarg or self.model._meta.pk.attname): obj.pk,
            **operation.arguments,
            **data,
        }
        reason = data.get("reason") or data.get("comments") or data.get("rollback_reason") or None
        with change_reason(reason):
            return operation.service_function()(**kwargs)
