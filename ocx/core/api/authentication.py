"""Token authentication under both schemes clients send: ``Authorization: Token <key>`` (DRF's)
and ``Authorization: Bearer <key>`` (what the seeds' examples and most HTTP clients use).
The same helpers serve the WebSocket and SSE endpoints, which authenticate outside DRF."""

from __future__ import annotations

from rest_framework import authentication

TOKEN_SCHEMES = {"token", "bearer"}


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication, with the user's memberships read in the same query: every
    API request needs them next (``ocx.core.tenancy.resolve_tenant``), so a request costs one query
    for both instead of two. A key without a membership in an active tenant (a superuser, or a
    user of no tenant), an unknown key and an inactive user go through DRF's own lookup and
    answers, unchanged."""

    def authenticate_credentials(self, key):
        from ocx.core.tenancy import active_memberships

        memberships = list(
            active_memberships(user__auth_token__key=key, user__is_active=True).select_related(
                "user", "user__auth_token"
            )
        )
        if not memberships:
            return super().authenticate_credentials(key)
        user = memberships[0].user
        for membership in memberships:
            membership.user = user
        user._ocx_memberships = memberships
        return user, user.auth_token


class BearerTokenAuthentication(TokenAuthentication):
    keyword = "Bearer"


def token_from_header(value: str) -> str | None:
    """The key of an ``Authorization`` header value in either scheme, else None."""
    parts = value.split()
    if len(parts) == 2 and parts[0].lower() in TOKEN_SCHEMES:
        return parts[1]
    return None


def user_for_token(key: str):
    """The active user owning token ``key``, or None (synchronous: wrap it for async code)."""
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return None
    return token.user


try:  # the OpenAPI description of the scheme (drf-spectacular registers extensions on import)
    from drf_spectacular.extensions import OpenApiAuthenticationExtension

    class BearerTokenScheme(OpenApiAuthenticationExtension):
        target_class = BearerTokenAuthentication
        name = "bearerAuth"

        def get_security_definition(self, auto_schema):
            return {
                "type": "http",
                "scheme": "bearer",
                "description": "The key from POST /api/v1/auth/token: `Authorization: Bearer <key>`.",
            }
except ImportError:  # pragma: no cover - drf-spectacular is a pinned dependency
    pass
