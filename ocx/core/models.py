"""Tenants, memberships, and the tenant-scoped base every governed model inherits."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from ocx.core.access import Role
from ocx.core.audit import History


class TenantScopeError(RuntimeError):
    """A query on a tenant-scoped model ran without saying which tenant it is for.

    This is a programming error, never a user error: use ``Model.objects.for_tenant(t)`` in
    request code and ``Model.objects.all_tenants()`` in system jobs that deliberately span
    tenants (beat scans, the outbox dispatcher).
    """


class TenantQuerySet(models.QuerySet):
    """A queryset that refuses to run until it has been scoped to a tenant (or all of them)."""

    _tenant_scoped = False

    def _clone(self):
        clone = super()._clone()
        clone._tenant_scoped = self._tenant_scoped
        return clone

    def for_tenant(self, tenant) -> TenantQuerySet:
        tenant_id = tenant if isinstance(tenant, int) else tenant.pk
        qs = self.filter(tenant_id=tenant_id)
        qs._tenant_scoped = True
        return qs

    def all_tenants(self) -> TenantQuerySet:
        qs = self._chain()
        qs._tenant_scoped = True
        return qs

    def _check_scope(self) -> None:
        if not self._tenant_scoped:
            raise TenantScopeError(
                f"{self.model.__name__} query without a tenant: call .for_tenant(tenant) "
                "(or .all_tenants() in a deliberate cross-tenant job)."
            )

    # Every way a queryset reaches the database goes through one of these.
    def _fetch_all(self):
        if self._result_cache is None:
            self._check_scope()
        return super()._fetch_all()

    def iterator(self, *args, **kwargs):
        self._check_scope()
        return super().iterator(*args, **kwargs)

    def count(self):
        self._check_scope()
        return super().count()

    def exists(self):
        self._check_scope()
        return super().exists()

    def aggregate(self, *args, **kwargs):
        self._check_scope()
        return super().aggregate(*args, **kwargs)

    def update(self, **kwargs):
        self._check_scope()
        return super().update(**kwargs)

    def delete(self):
        self._check_scope()
        return super().delete()


class TenantManager(models.Manager.from_queryset(TenantQuerySet)):
    pass


class TenantScopedModel(models.Model):
    """Base for every governed row.

    ``objects`` is guarded (see ``TenantQuerySet``). ``unscoped`` is a plain manager and the
    *default* one, so Django's own machinery (admin, related managers, unique validation,
    deletion) keeps working; application code uses ``objects``.
    """

    tenant = models.ForeignKey("ocx.Tenant", on_delete=models.PROTECT, related_name="+")

    unscoped = models.Manager()
    objects = TenantManager()

    class Meta:
        abstract = True
        default_manager_name = "unscoped"


class Tenant(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    history = History()

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug


class Membership(models.Model):
    """A user's role in one tenant. A user may belong to several tenants."""

    id = models.BigAutoField(primary_key=True)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=32, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    history = History()

    class Meta:
        ordering = ["tenant__slug", "user__username"]
        constraints = [models.UniqueConstraint(fields=["user", "tenant"], name="uniq_membership_user_tenant")]
        # Seed-named permissions; granted per tenant through the membership role (ocx.core.access).
        permissions = [
            ("CREATE_TASK", "Create workflow tasks"),
            ("UPDATE_TASK", "Transition and edit workflow tasks"),
            ("CREATE_ACTION_PLAN", "Create and edit action plans"),
            ("ACTIVATE_ACTION_PLAN", "Activate and archive action plans"),
            ("MANAGE_SLA", "Manage SLA configurations"),
            ("VIEW_WORKFLOW_STATS", "View workflow statistics"),
            ("CREATE_ACTIVITY", "Create registry activities and new versions"),
            ("REQUEST_APPROVAL", "Request approvals for activities"),
            ("APPROVE_TECHNICAL", "Decide TECHNICAL approvals"),
            ("APPROVE_BUSINESS", "Decide BUSINESS approvals"),
            ("APPROVE_COMPLIANCE", "Decide COMPLIANCE approvals"),
            ("APPROVE_SECURITY", "Decide SECURITY approvals"),
            ("DEPLOY_ACTIVITY", "Deploy and roll back activities"),
            ("SUSPEND_ACTIVITY", "Suspend, reactivate and retire activities"),
            ("RECORD_EXECUTION", "Record activity executions"),
            ("CREATE_EVENT", "Publish events to the feed"),
            ("MANAGE_INGESTION", "Manage ingestion sources and secrets"),
            ("MANAGE_WORKSPACE", "Manage workspaces, members and work units"),
            ("RUN_WORK_UNIT", "Start work-unit runs"),
            ("MANAGE_TENANT", "Manage tenant memberships"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.tenant} ({self.role})"


class ApiTokenQuerySet(models.QuerySet):
    def usable(self, now):
        """Tokens that authenticate at ``now``: not revoked, not expired."""
        return self.filter(revoked_at__isnull=True).filter(
            models.Q(expires_at__isnull=True) | models.Q(expires_at__gt=now)
        )


class ApiToken(models.Model):
    """An API key of one user (``Authorization: Bearer <key>``), valid in every tenant the user
    belongs to, as the session is.

    Only a SHA-256 of the key is stored (the key is 256 random bits: a slow hash would add
    nothing but latency to every request); the key is shown once, when it is issued. A user may
    hold several tokens (one per client), each with its own expiry: rotating one issues its
    successor and lets the old key live on for a grace period, so clients switch without
    downtime. ``last_used_at`` is written at most once a minute per token (not per request)."""

    id = models.BigAutoField(primary_key=True)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True, default="")
    # The first characters of the key, to tell tokens apart in lists (never enough to use one).
    prefix = models.CharField(max_length=12, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    rotated_from = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="rotated_to", editable=False
    )

    # Creation, rotation and revocation are history rows naming the actor; use is not (it is
    # ``last_used_at``, and a log line on the ``ocx.audit`` logger).
    history = History(excluded_fields=["last_used_at", "last_used_ip"])
    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or 'unnamed'}) of {self.user}"
