"""Token authentication under both schemes clients send: ``Authorization: Token <key>`` (DRF's)
and ``Authorization: Bearer <key>`` (what the seeds' examples and most HTTP clients use).
The same helpers serve the WebSocket and SSE endpoints, which authenticate outside DRF.

Keys are checked against ``ocx.core.models.ApiToken`` (hashed, expiring, revocable: see
``ocx.core.tokens``)."""

from __future__ import annotations

from django.db.models import F
from django.utils import timezone
from rest_framework import authentication, exceptions

from ocx.core import tokens

TOKEN_SCHEMES = {"token", "bearer"}


def _client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") or None if request is not None else None


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's header parsing, OCX's tokens. The token, its user and the user's memberships are
    read in one query: every API request needs the memberships next
    (``ocx.core.tenancy.resolve_tenant``). A key without a membership in an active tenant (a
    superuser, or a user of no tenant) costs a second query; an unknown, expired or revoked
    key, or an inactive user, is a 401 ``AUTHENTICATION_FAILED`` saying which."""

    def authenticate(self, request):
        self._request = request
        return super().authenticate(request)

    def authenticate_credentials(self, key):
        user, token = authenticate_key(key, ip=_client_ip(getattr(self, "_request", None)))
        return user, token


class BearerTokenAuthentication(TokenAuthentication):
    keyword = "Bearer"


def authenticate_key(key: str, *, ip: str | None = None, now=None):
    """``(user, token)`` for a presented key, else ``AuthenticationFailed``; records the use."""
    from ocx.core.models import ApiToken
    from ocx.core.tenancy import active_memberships

    now = now or timezone.now()
    key_hash = tokens.hash_key(key)
    memberships = list(
        active_memberships(user__api_tokens__key_hash=key_hash, user__is_active=True)
        .select_related("user")
        .annotate(
            _token_pk=F("user__api_tokens__id"),
            _token_expires_at=F("user__api_tokens__expires_at"),
            _token_revoked_at=F("user__api_tokens__revoked_at"),
            _token_last_used_at=F("user__api_tokens__last_used_at"),
        )
    )
    if memberships:
        first = memberships[0]
        user = first.user
        token = ApiToken(
            pk=first._token_pk,
            user=user,
            key_hash=key_hash,
            expires_at=first._token_expires_at,
            revoked_at=first._token_revoked_at,
            last_used_at=first._token_last_used_at,
        )
        for membership in memberships:
            membership.user = user
        user._ocx_memberships = memberships
    else:
        token = ApiToken.objects.select_related("user").filter(key_hash=key_hash).first()
        user = token.user if token is not None else None
    try:
        tokens.check_token(token, user, now=now)
    except tokens.TokenRefused as exc:
        raise exceptions.AuthenticationFailed(str(exc)) from exc
    tokens.touch(token.pk, token.last_used_at, now=now, ip=ip)
    return user, token


def token_from_header(value: str) -> str | None:
    """The key of an ``Authorization`` header value in either scheme, else None."""
    parts = value.split()
    if len(parts) == 2 and parts[0].lower() in TOKEN_SCHEMES:
        return parts[1]
    return None


def user_for_token(key: str, *, ip: str | None = None):
    """The active user owning the usable token ``key``, or None (synchronous: wrap it for async code)."""
    try:
        user, _ = authenticate_key(key, ip=ip)
    except exceptions.AuthenticationFailed:
        return None
    return user


try:  # the OpenAPI description of the scheme (drf-spectacular registers extensions on import)
    from drf_spectacular.extensions import OpenApiAuthenticationExtension

    class BearerTokenScheme(OpenApiAuthenticationExtension):
        target_class = BearerTokenAuthentication
        name = "bearerAuth"

        def get_security_definition(self, auto_schema):
            return {
                "type": "http",
                "scheme": "bearer",
                "description": (
                    "A key from POST /api/v1/auth/token (username and password) or POST /api/v1/auth/tokens: "
                    "`Authorization: Bearer <key>`. Keys expire; list, rotate and revoke them under /api/v1/auth/tokens."
                ),
            }
except ImportError:  # pragma: no cover - drf-spectacular is a pinned dependency
    pass
