"""``GET /api/v1/events/stream``: Server-Sent Events of the caller's tenant.

Authenticated by session, ``Authorization: Token|Bearer <key>`` or ``?token=<key>`` (EventSource
cannot set headers). Same filters as the list. Every 30 s without an event a ``: keepalive``
comment keeps proxies from closing the connection. Each event carries ``id: <event id>``, so a
browser reconnecting sends ``Last-Event-ID`` and gets exactly what it missed, then live events.
"""

from __future__ import annotations

import json

from channels.db import database_sync_to_async
from django.contrib.auth.models import AnonymousUser
from django.http import JsonResponse, StreamingHttpResponse

from activity_feed.filters import EventFilters
from activity_feed.live import READY, encoded, event_feed, parse_last_id
from ocx.core import errors
from ocx.core.api.authentication import token_from_header, user_for_token
from ocx.core.api.schema import ERROR_DESCRIPTIONS
from ocx.core.tenancy import resolve_tenant


async def authenticate(request):
    key = token_from_header(request.headers.get("Authorization", "")) or request.GET.get("token")
    if key:
        return await database_sync_to_async(user_for_token)(key)
    user = await database_sync_to_async(_session_user)(request)
    return user if user.is_authenticated else None


def _session_user(request):
    user = getattr(request, "user", None) or AnonymousUser()
    user.is_authenticated  # noqa: B018 - resolves the lazy session user here, in the DB thread
    return user._wrapped if hasattr(user, "_wrapped") else user


def _error(exc: errors.ApplicationError) -> JsonResponse:
    return JsonResponse(exc.as_dict(), status=exc.status_code)


def _frame(event: dict) -> str:
    data = json.dumps({"action": "created", "event": event}, separators=(",", ":"))
    return f"id: {event['id']}\ndata: {data}\n\n"


def format_event(event: dict) -> str:
    return encoded("sse", event, _frame)


async def _stream(tenant, filters, after_id):
    async for event in event_feed(tenant=tenant, filters=filters, after_id=after_id):
        if event is READY:
            # Sent once subscribed: from here on no event of the tenant can be missed.
            yield "retry: 3000\n: connected\n\n"
        elif event is None:
            yield ": keepalive\n\n"
        else:
            yield format_event(event)


async def event_stream(request):
    if request.method != "GET":
        return _error(errors.ApplicationError("Method not allowed.", error_code="METHOD_NOT_ALLOWED"))
    user = await authenticate(request)
    if user is None:
        return _error(errors.AuthenticationRequired())
    try:
        wanted = request.headers.get("X-Tenant") or request.GET.get("tenant")
        tenant = await database_sync_to_async(resolve_tenant)(user, wanted)
        filters = EventFilters.from_params(request.GET)
        after_id = parse_last_id(
            request.headers.get("Last-Event-ID") or request.GET.get("last_event_id") or request.GET.get("cursor")
        )
    except errors.ApplicationError as exc:
        return _error(exc)
    response = StreamingHttpResponse(_stream(tenant, filters, after_id), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
    return response


# --- the OpenAPI description ------------------------------------------------------------------

STREAM_PATH = "/api/v1/events/stream"


def add_to_schema(result, generator, request, public):
    """drf-spectacular postprocessing hook (SPECTACULAR_SETTINGS): this view is plain async
    Django, which drf-spectacular does not list; described here with the list's filters."""
    from activity_feed.api import FILTER_PARAMETERS  # the list's filters, which the stream takes too

    parameters = [
        {
            "name": "Last-Event-ID",
            "in": "header",
            "required": False,
            "description": "The id of the last event received: replay what came after it, then live events.",
            "schema": {"type": "string", "pattern": r"^\s*[+]?[0-9]{1,19}\s*$"},
        },
        {
            "name": "X-Tenant",
            "in": "header",
            "required": False,
            "description": "One of the caller's tenants (also `?tenant=`).",
            "schema": {"type": "string"},
        },
        *(
            {"name": name, "in": "query", "required": False, "description": description, "schema": schema}
            for name, description, schema in [
                ("tenant", "One of the caller's tenants (as X-Tenant)", {"type": "string"}),
                ("token", "An API token (EventSource cannot set headers)", {"type": "string"}),
                ("last_event_id", "As Last-Event-ID", {"type": "integer", "minimum": 0}),
                ("cursor", "As Last-Event-ID", {"type": "integer", "minimum": 0}),
            ]
        ),
        *(
            {
                "name": p.name,
                "in": "query",
                "required": False,
                "description": p.description,
                "schema": p.type
                if isinstance(p.type, dict)
                else {"type": "string", **({"enum": list(p.enum)} if p.enum else {})},
            }
            for p in FILTER_PARAMETERS
        ),
    ]
    envelope = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
    operation = {
        "operationId": "events_stream",
        "summary": "Live events of the caller's tenant (Server-Sent Events)",
        "description": (
            "Authenticated by session, `Authorization: Token|Bearer <key>` or `?token=<key>`. Each event is "
            '`id: <event id>` and `data: {"action": "created", "event": {…}}` (the event as in '
            "`GET /api/v1/events/{id}`); `: keepalive` comments every 30 s. A reconnecting browser sends "
            "`Last-Event-ID` and gets exactly what it missed, then live events. The response never ends."
        ),
        "tags": ["events"],
        "parameters": parameters,
        "responses": {
            "200": {
                "description": "The event stream",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            },
            **{
                code: {"description": ERROR_DESCRIPTIONS[code], "content": envelope}
                for code in ("400", "401", "403", "405")
            },
        },
        "security": [{"bearerAuth": []}, {"tokenAuth": []}, {"cookieAuth": []}],
    }
    result.setdefault("paths", {})[STREAM_PATH] = {"get": operation}
    result["paths"] = dict(sorted(result["paths"].items()))
    return result
