"""Map each source's payloads to ``services.Draft`` events with a stable idempotency key, so a
retried delivery never duplicates. Malformed input raises ValidationError (400) for the whole
batch — nothing of it is stored.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from django.utils.dateparse import parse_datetime

from activity_feed.services import Draft
from activity_feed.titles import title_for
from ocx.core import errors


def _bad(message: str, index: int | None = None, **details) -> errors.ValidationError:
    if index is not None:
        details["index"] = index
    return errors.ValidationError(message, details=details, error_code="MALFORMED_PAYLOAD")


def _millis(value: Any, index: int, name: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _bad(f"{name} must be a millisecond timestamp.", index, field=name)
    try:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    except (OverflowError, ValueError, OSError):  # beyond year 9999 (or infinite, or NaN)
        raise _bad(f"{name} is out of range.", index, field=name) from None


def _moment(value: Any, index: int, name: str) -> datetime:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _millis(value, index, name)
    if isinstance(value, str):
        try:
            moment = parse_datetime(value)
        except ValueError:  # well-formed but impossible (month 13)
            moment = None
        if moment is not None:
            return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    raise _bad(f"{name} must be an ISO datetime or a millisecond timestamp.", index, field=name)


def _slug(value: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", str(value).strip().lower()).strip("_") or "event"


# --- HubSpot ------------------------------------------------------------------------------------
HUBSPOT_REQUIRED = ("eventId", "subscriptionType", "occurredAt", "objectId")


def hubspot_events(body: Any) -> list[Draft]:
    """HubSpot posts a JSON array of webhook events (up to 100 per request)."""
    if not isinstance(body, list) or not body:
        raise _bad("Expected a non-empty JSON array of HubSpot events.")
    drafts = []
    for index, item in enumerate(body):
        if not isinstance(item, dict):
            raise _bad("Each HubSpot event must be an object.", index)
        missing = [name for name in HUBSPOT_REQUIRED if item.get(name) in (None, "")]
        if missing:
            raise _bad(f"HubSpot event is missing {', '.join(missing)}.", index, missing=missing)
        subscription = str(item["subscriptionType"])
        if "." not in subscription:
            raise _bad("subscriptionType must look like 'contact.creation'.", index)
        object_type, _, action = subscription.partition(".")
        event_type = f"hubspot.{_slug(object_type)}.{_slug(action)}"
        title = title_for(event_type)
        if item.get("propertyName"):
            title = f"{title}: {item['propertyName']}"
        drafts.append(
            Draft(
                type=event_type,
                title=title,
                source="hubspot",
                source_system="hubspot",
                source_object_id=str(item["objectId"]),
                source_object_type=object_type,
                entity_type=object_type,
                entity_id=str(item["objectId"]),
                payload=item,
                tags=["hubspot", object_type],
                # eventId is unique per portal; the portal keeps two portals' ids apart.
                idempotency_key=f"hubspot:{item.get('portalId', '')}:{item['eventId']}",
                timestamp=_millis(item["occurredAt"], index, "occurredAt"),
            )
        )
    return drafts


# --- Salesforce ---------------------------------------------------------------------------------
def _salesforce_messages(body: Any) -> list[dict]:
    if isinstance(body, dict) and isinstance(body.get("events"), list):
        body = body["events"]
    if isinstance(body, dict):
        body = [body]
    if not isinstance(body, list) or not body:
        raise _bad("Expected a Salesforce event object or a non-empty array of them.")
    return body


def salesforce_events(body: Any) -> list[Draft]:
    """Change Data Capture events (``ChangeEventHeader``) and Platform Events, bare or in the
    CometD/Pub-Sub envelope ``{"channel", "data": {"schema", "payload", "event": {"replayId",
    "EventUuid"}}}``. Key: the event uuid, else the replay id on its channel, else the CDC
    transaction key + sequence number."""
    drafts = []
    for index, message in enumerate(_salesforce_messages(body)):
        if not isinstance(message, dict):
            raise _bad("Each Salesforce event must be an object.", index)
        channel = str(message.get("channel") or "")
        data = message.get("data") if isinstance(message.get("data"), dict) else message
        payload = data.get("payload") if isinstance(data.get("payload"), dict) else data
        envelope = data.get("event") if isinstance(data.get("event"), dict) else {}
        uuid_ = envelope.get("EventUuid") or payload.get("EventUuid") or envelope.get("eventUuid")
        replay_id = envelope.get("replayId", payload.get("replayId"))
        header = payload.get("ChangeEventHeader")
        if isinstance(header, dict):
            drafts.extend(_salesforce_cdc(index, channel, payload, header, uuid_, replay_id))
        elif header is not None:
            raise _bad("ChangeEventHeader must be an object.", index)
        else:
            drafts.append(_salesforce_platform_event(index, channel, data, payload, uuid_, replay_id))
    return drafts


def _salesforce_cdc(index, channel, payload, header, uuid_, replay_id) -> list[Draft]:
    entity = header.get("entityName")
    change = header.get("changeType")
    record_ids = header.get("recordIds")
    if not entity or not change or not isinstance(record_ids, list) or not record_ids:
        raise _bad("ChangeEventHeader needs entityName, changeType and recordIds.", index)
    if uuid_:
        base_key = f"salesforce:uuid:{uuid_}"
    elif replay_id is not None:
        base_key = f"salesforce:replay:{channel or entity}:{replay_id}"
    elif header.get("transactionKey"):
        base_key = f"salesforce:tx:{header['transactionKey']}:{header.get('sequenceNumber', 0)}"
    else:
        raise _bad("Salesforce event has no EventUuid, replayId or transactionKey to deduplicate it by.", index)
    stamp = header.get("commitTimestamp")
    timestamp = _millis(stamp, index, "commitTimestamp") if stamp is not None else None
    event_type = f"salesforce.{_slug(entity)}.{_slug(change)}"
    fields = {k: v for k, v in payload.items() if k != "ChangeEventHeader"}
    drafts = []
    for record_id in record_ids:
        name = fields.get("Name")
        title = title_for(event_type) + (f": {name}" if isinstance(name, str) and name else "")
        drafts.append(
            Draft(
                type=event_type,
                title=title,
                source="salesforce",
                source_system="salesforce",
                source_object_id=str(record_id),
                source_object_type=str(entity),
                entity_type=str(entity).lower(),
                entity_id=str(record_id),
                payload={"header": header, "fields": fields, "replay_id": replay_id, "channel": channel},
                tags=["salesforce", "cdc", _slug(change)],
                correlation_id=str(header.get("transactionKey") or "")[:100],
                user_name=str(header.get("commitUser") or ""),
                idempotency_key=base_key if len(record_ids) == 1 else f"{base_key}:{record_id}",
                timestamp=timestamp,
            )
        )
    return drafts


def _salesforce_platform_event(index, channel, data, payload, uuid_, replay_id) -> Draft:
    name = channel.rsplit("/", 1)[-1] if channel else str(data.get("schema") or payload.get("type") or "")
    if not name:
        raise _bad("A Platform Event needs its channel (e.g. /event/Order_Shipped__e).", index)
    if uuid_:
        key = f"salesforce:uuid:{uuid_}"
    elif replay_id is not None:
        key = f"salesforce:replay:{channel or name}:{replay_id}"
    else:
        raise _bad("Platform Event has no EventUuid or replayId to deduplicate it by.", index)
    created = payload.get("CreatedDate")
    event_name = _slug(name.removesuffix("__e"))
    return Draft(
        type=f"salesforce.event.{event_name}",
        title=f"Salesforce event {name.removesuffix('__e').replace('_', ' ')}",
        source="salesforce",
        source_system="salesforce",
        source_object_id=str(uuid_ or replay_id),
        source_object_type=name,
        entity_type="platform_event",
        entity_id=str(uuid_ or replay_id),
        payload={"fields": payload, "replay_id": replay_id, "channel": channel},
        tags=["salesforce", "platform-event"],
        user_name=str(payload.get("CreatedById") or ""),
        idempotency_key=key,
        timestamp=_moment(created, index, "CreatedDate") if created else None,
    )


# --- Standard Webhooks (generic) ------------------------------------------------------------
def webhook_events(body: Any, *, source_name: str, msg_id: str) -> list[Draft]:
    """Standard Webhooks payloads ``{"type", "timestamp", "data"}`` (or an array of them).
    ``data`` may carry feed fields: title, description, entity_type, entity_id, priority,
    tags, correlation_id. Key: ``webhook-id`` (plus the position inside an array)."""
    items = body if isinstance(body, list) else [body]
    if not items:
        raise _bad("Expected a webhook payload object or a non-empty array.")
    drafts = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("type"), str) or not item["type"].strip():
            raise _bad("A webhook payload needs a 'type' string.", index)
        data = item.get("data", {})
        if not isinstance(data, dict):
            raise _bad("'data' must be an object.", index)
        kind = ".".join(_slug(p) for p in item["type"].split(".") if p.strip())
        event_type = f"{_slug(source_name)}.{kind}" if "." in kind else f"{_slug(source_name)}.{kind}.received"
        priority = data.get("priority", "normal")
        tags = data.get("tags", [])
        if not isinstance(tags, list):
            raise _bad("'data.tags' must be an array.", index)
        drafts.append(
            Draft(
                type=event_type,
                title=str(data.get("title") or ""),
                description=str(data.get("description") or ""),
                source="webhook",
                source_system=_slug(source_name),
                source_object_id=str(data.get("id") or data.get("entity_id") or msg_id),
                source_object_type=kind,
                priority=str(priority),
                entity_type=str(data.get("entity_type") or ""),
                entity_id=str(data.get("entity_id") or ""),
                payload=item,
                tags=[str(t) for t in tags],
                correlation_id=str(data.get("correlation_id") or ""),
                idempotency_key=f"webhook:{_slug(source_name)}:{msg_id}"
                + (f":{index}" if isinstance(body, list) else ""),
                timestamp=_moment(item["timestamp"], index, "timestamp") if item.get("timestamp") else None,
            )
        )
    return drafts
