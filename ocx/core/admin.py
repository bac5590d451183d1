"""Admin scoping: a staff user sees the rows of the tenants they belong to; a superuser, all.
And the two admin shapes of rows only the system writes.

``TenantScopedAdminMixin`` scopes every way the admin reaches a row, not only the change list:

- ``get_queryset`` (change list, change, delete, Django's history, bulk actions, and the
  autocomplete of any field pointing at the model, which searches this admin's queryset);
- every URL of the admin that names an object (``object_id``: change, delete, history,
  simple-history's history item, custom action/transition pages, and any added later) is
  404 unless the object is in that queryset (or, deleted, left history in the user's tenants),
  so a custom view that forgets ``get_queryset`` still cannot reach another tenant's row;
- simple-history's pages, which read the history table directly: the records listed, and the
  one record of the history item / revert page, are the user's tenants' only;
- list filters' choices (``tenant``, ``target_tenant``, FKs to tenant rows, values across
  relations) and form choices of FKs to tenant rows list the user's tenants' rows only; a
  user's only tenant is preselected in add forms.

``check_tenant_admins`` (registered in ``ocx.checks``) fails ``manage.py check`` when an admin of
a model with a tenant is registered without the mixin, so a new model cannot forget it.
"""

from __future__ import annotations

import functools

from django.contrib import admin
from django.contrib.admin.options import TO_FIELD_VAR
from django.contrib.admin.utils import NotRelationField, get_fields_from_path, unquote
from django.core import checks
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.db.models.constants import LOOKUP_SEP
from django.http import Http404
from django.urls import URLPattern

from ocx.core.admin_fsm import status_badge

TENANT_FIELD = "tenant"


def user_tenant_ids(request) -> list[int]:
    """The ids of the tenants the request's user is a member of (read once per request)."""
    cached = getattr(request, "_ocx_admin_tenant_ids", None)
    if cached is None:
        from ocx.core.models import Membership

        cached = list(Membership.objects.filter(user_id=request.user.pk).values_list("tenant_id", flat=True))
        request._ocx_admin_tenant_ids = cached
    return cached


def is_tenant_model(model) -> bool:
    """The Tenant itself, or a model with a ``tenant`` foreign key to it."""
    from ocx.core.models import Tenant

    if model is Tenant:
        return True
    try:
        field = model._meta.get_field(TENANT_FIELD)
    except FieldDoesNotExist:
        return False
    return field.many_to_one and field.related_model is Tenant


def tenant_rows_q(request, model) -> models.Q | None:
    """A filter keeping ``model``'s rows of the user's tenants (for users: the members of those
    tenants); None for a model of no tenant."""
    from django.contrib.auth import get_user_model

    from ocx.core.models import Membership, Tenant

    if model is Tenant:
        return models.Q(pk__in=user_tenant_ids(request))
    if is_tenant_model(model):
        return models.Q(**{f"{TENANT_FIELD}__in": user_tenant_ids(request)})
    if model is get_user_model():
        return models.Q(pk__in=Membership.objects.filter(tenant__in=user_tenant_ids(request)).values("user_id"))
    return None


class TenantScopedRelatedFieldListFilter(admin.RelatedFieldListFilter):
    """A relation's filter listing only rows of the user's tenants (another tenant's name in the
    sidebar is a leak too); for a related model of no tenant, only rows the user's own rows
    point at."""

    def field_choices(self, field, request, model_admin):
        if request.user.is_superuser:
            return super().field_choices(field, request, model_admin)
        scope = tenant_rows_q(request, field.related_model)
        if scope is None:
            scope = models.Q(pk__in=model_admin.get_queryset(request).values(f"{self.field_path}__pk"))
        ordering = self.field_admin_ordering(field, request, model_admin)
        return field.get_choices(include_blank=False, ordering=ordering, limit_choices_to=scope)


class TenantScopedAllValuesFieldListFilter(admin.AllValuesFieldListFilter):
    """A field across a relation (``deployment__agent``): Django lists its values from every
    row of the related table; list those of the admin's (scoped) rows instead."""

    def __init__(self, field, request, params, model, model_admin, field_path):
        super().__init__(field, request, params, model, model_admin, field_path)
        if not request.user.is_superuser:
            rows = model_admin.get_queryset(request)
            self.lookup_choices = rows.distinct().order_by(field_path).values_list(field_path, flat=True)


def _scoped_filter(model, item):
    """The list_filter entry ``item`` with a scoped filter class where Django's would list rows
    or values of every tenant."""
    if isinstance(item, list | tuple) and len(item) == 2 and item[1] is admin.RelatedFieldListFilter:
        return (item[0], TenantScopedRelatedFieldListFilter)
    if not isinstance(item, str):
        return item  # a SimpleListFilter, or a filter class chosen on purpose
    try:
        field = get_fields_from_path(model, item)[-1]
    except (FieldDoesNotExist, NotRelationField):
        return item  # Django's admin checks report it
    if field.remote_field is not None:
        return (item, TenantScopedRelatedFieldListFilter)
    if LOOKUP_SEP in item and not field.choices and not isinstance(field, models.BooleanField | models.DateField):
        return (item, TenantScopedAllValuesFieldListFilter)
    return item


def _read_untracked_fields_unguarded(model) -> None:
    """simple-history rebuilds a record's ``instance`` reading the fields it does not track
    (``excluded_fields``) through ``Model.objects``: on a tenant-scoped model that is the guarded
    manager, which refuses the unscoped query (TenantScopeError, a 500 on every history item of
    an activity). Read them through the default (unscoped) manager: the record was scoped
    already. (The natural home of this is ``ocx.core.audit.History``.)"""
    from simple_history.manager import SIMPLE_HISTORY_REVERSE_ATTR_NAME

    attribute = getattr(model._meta, "simple_history_manager_attribute", None)
    if attribute is None:
        return
    history_model = getattr(model, attribute).model
    if not getattr(history_model, "_history_excluded_fields", None) or getattr(history_model, "_ocx_unguarded", False):
        return

    def instance(record):
        tracked = {field.attname: getattr(record, field.attname) for field in record.tracked_fields}
        untracked = [model._meta.get_field(name) for name in record._history_excluded_fields]
        untracked = [field.attname for field in untracked if not field.many_to_many]
        if untracked:
            pk = getattr(record, model._meta.pk.attname)
            tracked.update(model._default_manager.filter(pk=pk).values(*untracked).first() or {})
        result = model(**tracked)
        setattr(result, SIMPLE_HISTORY_REVERSE_ATTR_NAME, record)
        return result

    history_model.instance = property(instance)
    history_model._ocx_unguarded = True


class TenantScopedAdminMixin:
    """Scopes the admin of a tenant's model to the user's tenants (see the module docstring).

    ``tenant_lookup`` is the field naming a row's tenant (``"id"`` for the Tenant admin itself).
    """

    tenant_lookup = f"{TENANT_FIELD}_id"
    # Foreign keys to users that may name a user of none of your tenants (a new member).
    any_user_fields: tuple[str, ...] = ()

    def __init__(self, model, admin_site):
        super().__init__(model, admin_site)
        _read_untracked_fields_unguarded(model)

    def scope_to_user_tenants(self, request, queryset):
        """``queryset`` (of the model or of its history) restricted to the user's tenants."""
        if request.user.is_superuser:
            return queryset
        return queryset.filter(**{f"{self.tenant_lookup}__in": user_tenant_ids(request)})

    def get_queryset(self, request):
        return self.scope_to_user_tenants(request, super().get_queryset(request))

    # --- lists ---------------------------------------------------------------------------------
    badge_fields: tuple[str, ...] = ("status", "state")

    def get_list_display(self, request):
        """A lifecycle column (``status``/``state`` with choices) shown as a coloured badge, for
        every admin: the same ``ocx-status-<value>`` classes as the registry's own columns."""
        return [
            self._badge_column(name) if isinstance(name, str) else name for name in super().get_list_display(request)
        ]

    def _badge_column(self, name: str):
        if name not in self.badge_fields:
            return name
        try:
            field = self.model._meta.get_field(name)
        except FieldDoesNotExist:
            return name
        if not field.choices:
            return name

        def column(obj):
            value = getattr(obj, name)
            return status_badge(value, getattr(obj, f"get_{name}_display")())

        column.short_description = field.verbose_name
        column.admin_order_field = name
        column.__name__ = f"{name}_badge"
        return column

    # --- every URL naming an object -----------------------------------------------------------
    @property
    def urls(self):
        # ``urls`` (what the site includes), not ``get_urls``: subclasses and mixins ahead of this
        # one in the MRO add their own object URLs in ``get_urls``; those must be guarded too.
        return [self._guarded(pattern) if isinstance(pattern, URLPattern) else pattern for pattern in self.get_urls()]

    def _guarded(self, pattern: URLPattern) -> URLPattern:
        regex = pattern.pattern.regex
        # Django's and our URLs name the id ``object_id``; simple-history's history item passes
        # it as the first of its unnamed groups.
        positional = regex.groups > 0 and not regex.groupindex
        if "object_id" not in regex.groupindex and not positional:
            return pattern
        view = pattern.callback

        @functools.wraps(view)
        def guarded(request, *args, **kwargs):
            object_id = kwargs.get("object_id", args[0] if args else None)
            if self.admin_site.has_permission(request) and not self.object_visible(request, object_id):
                raise Http404(f"No {self.model._meta.verbose_name} with this id.")
            return view(request, *args, **kwargs)

        return URLPattern(pattern.pattern, guarded, pattern.default_args, pattern.name)

    def object_visible(self, request, object_id) -> bool:
        """Whether ``object_id`` (from a URL) is a row of this admin's queryset, or a deleted row
        whose history is in the user's tenants (simple-history shows it)."""
        object_id = unquote(str(object_id))
        to_field = request.POST.get(TO_FIELD_VAR, request.GET.get(TO_FIELD_VAR))
        from_field = to_field if to_field and self.to_field_allowed(request, to_field) else None
        if self.get_object(request, object_id, from_field) is not None:
            return True
        history = self._history(request)
        if history is None:
            return False
        try:
            return history.filter(**{self.model._meta.pk.attname: object_id}).exists()
        except (ValidationError, ValueError, OverflowError):
            return False

    # --- simple-history's pages (they read the history table, not get_queryset) ---------------
    def _history(self, request):
        attribute = getattr(self.model._meta, "simple_history_manager_attribute", None)
        if attribute is None:
            return None
        return self.scope_to_user_tenants(request, getattr(self.model, attribute).all())

    def get_history_queryset(self, request, history_manager, pk_name, object_id):
        queryset = super().get_history_queryset(request, history_manager, pk_name, object_id)
        return self.scope_to_user_tenants(request, queryset)

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        history = self._history(request)
        if history is None:
            raise Http404("No history.")
        try:
            found = history.filter(**{self.model._meta.pk.attname: unquote(object_id), "history_id": version_id})
            found = found.exists()
        except (ValidationError, ValueError, OverflowError):
            found = False
        if not found:
            raise Http404("No such history record.")
        return super().history_form_view(request, object_id, version_id, extra_context)

    # --- choices: filters and forms -----------------------------------------------------------
    def get_list_filter(self, request):
        return [_scoped_filter(self.model, item) for item in super().get_list_filter(request)]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        return self._scoped_choices(db_field, request, super().formfield_for_foreignkey(db_field, request, **kwargs))

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        return self._scoped_choices(db_field, request, super().formfield_for_manytomany(db_field, request, **kwargs))

    def _scoped_choices(self, db_field, request, formfield):
        # Filtering the field's queryset also refuses a posted id of another tenant's row.
        unscoped = request.user.is_superuser or db_field.name in self.any_user_fields
        scope = None if unscoped else tenant_rows_q(request, db_field.related_model)
        if formfield is not None and scope is not None:
            formfield.queryset = formfield.queryset.filter(scope)
        if formfield is not None and db_field.name == TENANT_FIELD and not request.user.is_superuser:
            tenants = user_tenant_ids(request)
            if len(tenants) == 1:
                formfield.initial = tenants[0]  # a user's only tenant is the one they add to
        return formfield


def check_tenant_admins(app_configs=None, site=None, **kwargs):
    """ocx.E001: the admin of a model with a tenant must scope it (``TenantScopedAdminMixin``,
    ahead of ModelAdmin in its bases). ocx.E002: an inline of such a model needs a scoped parent."""
    site = site or admin.site
    found = []
    for model, model_admin in site._registry.items():
        label = f"{model._meta.label}'s admin ({type(model_admin).__name__})"
        if is_tenant_model(model) and not _scoped(type(model_admin)):
            found.append(
                checks.Error(
                    f"{label} does not scope rows to the user's tenants.",
                    hint="Put ocx.core.admin.TenantScopedAdminMixin first among its bases.",
                    obj=type(model_admin),
                    id="ocx.E001",
                )
            )
        elif not _scoped(type(model_admin)):
            for inline in model_admin.inlines:
                if is_tenant_model(inline.model):
                    found.append(
                        checks.Error(
                            f"{label} shows {inline.model._meta.label} rows inline without tenant scoping.",
                            hint="Scope the parent admin with TenantScopedAdminMixin, or drop the inline.",
                            obj=type(model_admin),
                            id="ocx.E002",
                        )
                    )
    return found


def _scoped(admin_class) -> bool:
    mro = admin_class.__mro__
    return TenantScopedAdminMixin in mro and mro.index(TenantScopedAdminMixin) < mro.index(admin.ModelAdmin)


class SystemRecordAdminMixin:
    """Rows the system writes (transitions, deliveries, trigger runs): never added or edited by
    hand in the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyAdminMixin(SystemRecordAdminMixin):
    """Immutable rows (events, executions): not deleted by hand either."""

    def has_delete_permission(self, request, obj=None):
        return False
