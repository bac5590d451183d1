"""API tokens: issue, rotate, revoke (services), read (selectors), and check a presented key.

A key is ``ocx_`` + 256 random bits; the database keeps its SHA-256 only (``ApiToken.key_hash``),
so a leaked table or backup authenticates nobody. Tokens expire after
``OCX_TOKEN_LIFETIME_DAYS`` unless the owner asks for less. Rotation issues the successor and
shortens the old key's life to ``OCX_TOKEN_ROTATION_GRACE_SECONDS``: clients deploy the new key
while the old one still works, then the old one dies by itself (or is revoked).

Audit: issue, rotation and revocation are history rows of ``ApiToken`` naming the actor, and
lines on the ``ocx.audit`` logger; use is recorded as ``last_used_at`` / ``last_used_ip``, written
by one conditional UPDATE at most once a minute per token (with a log line), never per request.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.utils import timezone

from ocx.core import errors
from ocx.core.models import ApiToken
from ocx.core.services import service

audit_log = logging.getLogger("ocx.audit")

KEY_PREFIX = "ocx_"
# What ``token_state`` answers (the API's ``state``; ``TokenStateEnum`` in the schema).
TOKEN_STATES = ("active", "expired", "revoked")
# ``last_used_at`` is refreshed when it is older than this: one write a minute per token at most.
TOUCH_INTERVAL = timedelta(seconds=60)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def default_lifetime() -> timedelta | None:
    """The lifetime of a new token (None: tokens do not expire, ``OCX_TOKEN_LIFETIME_DAYS=0``)."""
    days = settings.OCX_TOKEN_LIFETIME_DAYS
    return timedelta(days=days) if days > 0 else None


@dataclass(frozen=True)
class IssuedToken:
    """A token and its key: the only moment the key is known to the server."""

    token: ApiToken
    key: str


# --- services ---------------------------------------------------------------------------------
def _create(*, user, name: str, lifetime: timedelta | None, now: datetime, rotated_from=None) -> IssuedToken:
    key = new_key()
    token = ApiToken.objects.create(
        user=user,
        name=name[:100],
        prefix=key[:12],
        key_hash=hash_key(key),
        expires_at=now + lifetime if lifetime is not None else None,
        rotated_from=rotated_from,
    )
    return IssuedToken(token=token, key=key)


@service
def token_issue(
    *, actor, user=None, name: str = "", lifetime: timedelta | None = None, now: datetime | None = None
) -> IssuedToken:
    """A new token for ``user`` (default: the actor); it expires after ``lifetime``, which may not
    exceed the configured default lifetime."""
    now = now or timezone.now()
    user = user or actor
    ceiling = default_lifetime()
    if lifetime is None or (ceiling is not None and lifetime > ceiling):
        lifetime = ceiling
    issued = _create(user=user, name=name, lifetime=lifetime, now=now)
    audit_log.info(
        "token issued id=%s prefix=%s user=%s by=%s expires_at=%s",
        issued.token.public_id,
        issued.token.prefix,
        user.pk,
        getattr(actor, "pk", None),
        issued.token.expires_at,
    )
    return issued


@service
def token_rotate(*, actor, token_id, grace: timedelta | None = None, now: datetime | None = None) -> IssuedToken:
    """The successor of the caller's token ``token_id`` (same name, a fresh lifetime); the old key
    stays valid for the grace period (or until it is revoked), then expires."""
    now = now or timezone.now()
    old = token_get_for_user(user=actor, token_id=token_id, lock=True)
    if not token_is_usable(old, now=now):
        raise errors.Conflict("This token is revoked or expired: issue a new one.", details={"id": str(token_id)})
    if ApiToken.objects.filter(rotated_from=old).exists():
        raise errors.Conflict("This token was rotated already: rotate its successor.", details={"id": str(token_id)})
    if grace is None:
        grace = timedelta(seconds=settings.OCX_TOKEN_ROTATION_GRACE_SECONDS)
    issued = _create(user=old.user, name=old.name, lifetime=default_lifetime(), now=now, rotated_from=old)
    if old.expires_at is None or old.expires_at > now + grace:
        old.expires_at = now + grace
        old.save(update_fields=["expires_at"])
    audit_log.info(
        "token rotated id=%s new_id=%s user=%s by=%s old_expires_at=%s",
        old.public_id,
        issued.token.public_id,
        old.user_id,
        actor.pk,
        old.expires_at,
    )
    return issued


@service
def token_revoke(*, actor, token_id, now: datetime | None = None, admin: bool = False) -> ApiToken:
    """The caller's token ``token_id`` stops authenticating now (again: a no-op). ``admin``: the
    actor is an admin revoking a token it may see in the admin (the admin scopes the choice)."""
    now = now or timezone.now()
    if admin:
        token = ApiToken.objects.select_for_update().get(public_id=token_id)
    else:
        token = token_get_for_user(user=actor, token_id=token_id, lock=True)
    if token.revoked_at is None:
        token.revoked_at = now
        token.save(update_fields=["revoked_at"])
        audit_log.info("token revoked id=%s user=%s by=%s", token.public_id, token.user_id, actor.pk)
    return token


# --- selectors --------------------------------------------------------------------------------
def token_list_for_user(*, user) -> models.QuerySet[ApiToken]:
    """The user's own tokens, newest first (revoked and expired ones included: they are history)."""
    return ApiToken.objects.filter(user=user).select_related("rotated_from").order_by("-created_at", "-id")


def token_get_for_user(*, user, token_id, lock: bool = False) -> ApiToken:
    """The user's token ``token_id`` (its public id); another user's, or none, is a 404."""
    queryset = ApiToken.objects.filter(user=user)
    if lock:
        queryset = queryset.select_for_update()
    try:
        return queryset.get(public_id=token_id)
    except (ApiToken.DoesNotExist, ValueError, TypeError, DjangoValidationError) as exc:
        raise errors.NotFound("No such token.", details={"id": str(token_id)}) from exc


def token_is_usable(token: ApiToken, *, now: datetime) -> bool:
    return token.revoked_at is None and (token.expires_at is None or token.expires_at > now)


def token_state(token: ApiToken, *, now: datetime) -> str:
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"


# --- checking a presented key -----------------------------------------------------------------
class TokenRefused(Exception):
    """A presented key that does not authenticate; ``str()`` says why (shown to the client)."""


def check_token(token: ApiToken | None, user, *, now: datetime) -> None:
    """Raise ``TokenRefused`` unless ``token`` (of ``user``) authenticates at ``now``."""
    if token is None:
        raise TokenRefused("Invalid token.")
    if token.revoked_at is not None:
        raise TokenRefused("Token revoked.")
    if token.expires_at is not None and token.expires_at <= now:
        raise TokenRefused("Token expired.")
    if user is None or not user.is_active:
        raise TokenRefused("User inactive or deleted.")


def touch(token_pk: int, last_used_at: datetime | None, *, now: datetime, ip: str | None = None) -> bool:
    """Record a use of the token, at most once per ``TOUCH_INTERVAL``: no query at all while the
    stored time is recent; a conditional UPDATE otherwise, so concurrent requests write once."""
    if last_used_at is not None and now - last_used_at < TOUCH_INTERVAL:
        return False
    stale = models.Q(last_used_at__isnull=True) | models.Q(last_used_at__lte=now - TOUCH_INTERVAL)
    written = ApiToken.objects.filter(stale, pk=token_pk).update(last_used_at=now, last_used_ip=ip or None)
    if written:
        audit_log.info("token used pk=%s ip=%s", token_pk, ip or "-")
    return bool(written)
