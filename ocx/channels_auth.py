"""WebSocket authentication: the session cookie (dashboard) or a DRF token.

The token may come in an ``Authorization: Token <key>`` (or ``Bearer <key>``) header (server-side clients) or as
``?token=<key>`` (browsers cannot set headers on a WebSocket).
"""

from __future__ import annotations

from urllib.parse import parse_qs

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser

from ocx.core.api.authentication import token_from_header, user_for_token


@database_sync_to_async
def _user_for_token(key: str):
    return user_for_token(key) or AnonymousUser()


def _token_from_scope(scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            key = token_from_header(value.decode("latin-1"))
            if key:
                return key
    query = parse_qs(scope.get("query_string", b"").decode())
    values = query.get("token")
    return values[0] if values else None


class TokenAuthMiddleware:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        key = _token_from_scope(scope)
        if key:
            scope = dict(scope, user=await _user_for_token(key))
        return await self.inner(scope, receive, send)


def TokenOrSessionAuthMiddlewareStack(inner):  # noqa: N802 (mirrors channels' naming)
    # Session auth runs first and sets scope["user"]; a token, when given, takes precedence.
    return AuthMiddlewareStack(TokenAuthMiddleware(inner))


class BrowserOriginValidator:
    """Check the Origin of browser WebSockets against ALLOWED_HOSTS (cross-site hijacking
    protection for cookie sessions). Non-browser clients send no Origin and authenticate with a
    token, so there is nothing to protect there; channels' validator would refuse them."""

    def __init__(self, inner):
        from channels.security.websocket import AllowedHostsOriginValidator

        self.inner = inner
        self.validated = AllowedHostsOriginValidator(inner)

    async def __call__(self, scope, receive, send):
        has_origin = any(name == b"origin" for name, _ in scope.get("headers", []))
        app = self.validated if has_origin else self.inner
        return await app(scope, receive, send)
