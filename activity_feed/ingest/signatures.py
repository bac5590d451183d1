"""Signature schemes of incoming deliveries. Every comparison is constant-time.

* Standard Webhooks (https://www.standardwebhooks.com): headers ``webhook-id``,
  ``webhook-timestamp`` (Unix seconds) and ``webhook-signature`` — a space-separated list of
  ``v1,<base64 HMAC-SHA256>`` (several during a key rotation). The signed content is
  ``{id}.{timestamp}.{body}``; the key is the base64 part of ``whsec_<base64>``. Timestamps
  more than 5 minutes away from now (either way) are refused.
* HubSpot v3: ``X-HubSpot-Signature-v3`` = base64(HMAC-SHA256(client secret, method + URI +
  body + timestamp)) with ``X-HubSpot-Request-Timestamp`` in milliseconds, refused when more
  than 5 minutes away from now (HubSpot documents "older than"; a stamp far in the future would
  keep a captured delivery replayable for as long, so it is refused too, as Standard Webhooks
  does). HubSpot decodes a fixed set of URL-encoded characters in the URI first.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time

from ocx.core import errors

TOLERANCE_SECONDS = 5 * 60


class SignatureError(errors.AuthenticationRequired):
    error_code = "INVALID_SIGNATURE"
    default_message = "The request signature is missing or does not verify."


def _refuse(message: str, **details) -> SignatureError:
    return SignatureError(message, details=details)


# --- Standard Webhooks ------------------------------------------------------------------------
def webhook_key(secret: str) -> bytes:
    raw = secret[len("whsec_") :] if secret.startswith("whsec_") else secret
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        # A secret that is not base64 is used as raw bytes (some senders do).
        return raw.encode()


def standard_webhook_sign(*, secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(webhook_key(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def standard_webhook_verify(
    *, secrets: list[str], msg_id: str, timestamp: str, signature_header: str, body: bytes, now: float | None = None
) -> None:
    """Raise SignatureError unless one ``v1`` signature matches one secret within tolerance."""
    if not msg_id or not timestamp or not signature_header:
        raise _refuse("Missing webhook-id, webhook-timestamp or webhook-signature header.")
    try:
        stamp = int(timestamp)
    except ValueError:
        raise _refuse("webhook-timestamp is not a Unix timestamp.") from None
    now = time.time() if now is None else now
    if abs(now - stamp) > TOLERANCE_SECONDS:
        raise _refuse("webhook-timestamp is outside the 5-minute tolerance.", timestamp=stamp)
    offered = []
    for part in signature_header.split(" "):
        version, _, value = part.partition(",")
        if version == "v1" and value:
            offered.append(value.encode())
    for secret in secrets:
        expected = standard_webhook_sign(secret=secret, msg_id=msg_id, timestamp=stamp, body=body)[3:].encode()
        # Compare against every offered signature (no early exit on the first mismatch).
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return
    raise _refuse("No webhook-signature matches.")


# --- HubSpot v3 -------------------------------------------------------------------------------
# HubSpot's documented list of URL-encoded characters to decode before signing.
_HUBSPOT_DECODE = {
    "%3A": ":", "%2F": "/", "%3F": "?", "%40": "@", "%21": "!", "%24": "$", "%27": "'",
    "%28": "(", "%29": ")", "%2A": "*", "%2C": ",", "%3B": ";",
}  # fmt: skip


def hubspot_uri(uri: str) -> str:
    for encoded, char in _HUBSPOT_DECODE.items():
        uri = uri.replace(encoded, char).replace(encoded.lower(), char)
    return uri


def hubspot_v3_sign(*, secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    content = method.upper().encode() + hubspot_uri(uri).encode() + body + str(timestamp).encode()
    return base64.b64encode(hmac.new(secret.encode(), content, hashlib.sha256).digest()).decode()


def hubspot_v3_verify(
    *, secrets: list[str], method: str, uri: str, body: bytes, timestamp: str, signature: str, now: float | None = None
) -> None:
    if not signature or not timestamp:
        raise _refuse("Missing X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp header.")
    try:
        stamp_ms = int(timestamp)
    except ValueError:
        raise _refuse("X-HubSpot-Request-Timestamp is not a millisecond timestamp.") from None
    now_ms = (time.time() if now is None else now) * 1000
    if now_ms - stamp_ms > TOLERANCE_SECONDS * 1000:
        raise _refuse("X-HubSpot-Request-Timestamp is older than 5 minutes.", timestamp=stamp_ms)
    if stamp_ms - now_ms > TOLERANCE_SECONDS * 1000:
        raise _refuse("X-HubSpot-Request-Timestamp is more than 5 minutes in the future.", timestamp=stamp_ms)
    offered = signature.strip().encode()
    matches = [
        hmac.compare_digest(
            hubspot_v3_sign(secret=s, method=method, uri=uri, body=body, timestamp=timestamp).encode(), offered
        )
        for s in secrets
    ]
    if not any(matches):
        raise _refuse("X-HubSpot-Signature-v3 does not match.")
