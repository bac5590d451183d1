"""``/api/v1/ingest/salesforce``, ``/api/v1/ingest/hubspot``, ``/api/v1/ingest/webhook/<source>``.

The tenant comes from the source's credentials, never from the payload: the URL names an
``IngestionSource`` (``?source=<key>``, or the path for webhooks) whose secret must verify the
signature; Salesforce relays may instead call with an OCX token of a user allowed to create
events. Bad or missing signature → 401; malformed payload → 400; a batch is stored whole or
not at all; retried deliveries are recognised by their idempotency key (200, nothing new).
"""

from __future__ import annotations

import json

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from activity_feed import services
from activity_feed.ingest import normalizers, signatures
from activity_feed.models import IngestionKind, IngestionSource
from activity_feed.ratelimit import check_rate
from ocx.core import errors
from ocx.core.access import Perm, has_perm
from ocx.core.api.parsers import NUL_MESSAGE, contains_nul
from ocx.core.tenancy import resolve_request_tenant

IngestResult = inline_serializer(
    "IngestResult",
    {
        "success": serializers.BooleanField(),
        "received": serializers.IntegerField(),
        "created": serializers.IntegerField(),
        "duplicates": serializers.IntegerField(),
        "event_ids": serializers.ListField(child=serializers.IntegerField()),
    },
)
SOURCE_PARAM = OpenApiParameter("source", str, description="The ingestion source's key (or header X-OCX-Source)")


def _source(key: str, kind: str) -> IngestionSource:
    source = (
        IngestionSource.objects.all_tenants()
        .select_related("tenant")
        .filter(key=key, kind=kind, is_active=True, tenant__is_active=True)
        .first()
        if key
        else None
    )
    if source is None:
        # Same answer as a bad signature: an unknown key tells a prober nothing.
        raise signatures.SignatureError("Unknown or inactive ingestion source.")
    return source


def _json(body: bytes):
    try:
        data = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise errors.ValidationError(f"Malformed JSON: {exc}", error_code="MALFORMED_REQUEST") from exc
    if contains_nul(data):  # PostgreSQL cannot store it: a 400, not a 500
        raise errors.ValidationError(NUL_MESSAGE)
    return data


def _store(tenant, drafts) -> Response:
    result = services.events_bulk_create(tenant=tenant, drafts=drafts)
    return Response(
        {
            "success": True,
            "received": result.received,
            "created": result.created,
            "duplicates": result.duplicates,
            "event_ids": result.event_ids,
        }
    )


def public_uri(request) -> str:
    """The URI the sender signed: behind a TLS proxy set ``OCX_PUBLIC_BASE_URL``."""
    base = settings.OCX_PUBLIC_BASE_URL
    return base.rstrip("/") + request.get_full_path() if base else request.build_absolute_uri()


class IngestView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    error_statuses = {"POST": (429,)}  # activity_feed.ratelimit, per tenant

    def source_key(self, request) -> str:
        return request.headers.get("X-OCX-Source") or request.query_params.get("source") or ""


class HubSpotIngestView(IngestView):
    """HubSpot webhook deliveries (a JSON array), verified with the v3 signature."""

    @extend_schema(request=OpenApiTypes.OBJECT, responses=IngestResult, parameters=[SOURCE_PARAM], auth=[])
    def post(self, request):
        body = request.body
        source = _source(self.source_key(request), IngestionKind.HUBSPOT)
        signatures.hubspot_v3_verify(
            secrets=source.secrets(),
            method=request.method,
            uri=public_uri(request),
            body=body,
            timestamp=request.headers.get("X-HubSpot-Request-Timestamp", ""),
            signature=request.headers.get("X-HubSpot-Signature-v3", ""),
        )
        check_rate(tenant=source.tenant, scope="ingest")
        return _store(source.tenant, normalizers.hubspot_events(_json(body)))


class WebhookIngestView(IngestView):
    """Any sender implementing Standard Webhooks; ``<source>`` is the source's key."""

    @extend_schema(request=OpenApiTypes.OBJECT, responses=IngestResult, auth=[])
    def post(self, request, source):
        body = request.body
        source_row = _source(source, IngestionKind.WEBHOOK)
        msg_id = request.headers.get("webhook-id", "")
        signatures.standard_webhook_verify(
            secrets=source_row.secrets(),
            msg_id=msg_id,
            timestamp=request.headers.get("webhook-timestamp", ""),
            signature_header=request.headers.get("webhook-signature", ""),
            body=body,
        )
        check_rate(tenant=source_row.tenant, scope="ingest")
        drafts = normalizers.webhook_events(_json(body), source_name=source_row.name, msg_id=msg_id)
        return _store(source_row.tenant, drafts)


class SalesforceIngestView(IngestView):
    """Salesforce CDC / Platform Events forwarded by a relay: signed with Standard Webhooks
    headers and the source's secret, or sent with an OCX token (CREATE_EVENT)."""

    from ocx.core.api.authentication import TokenAuthentication

    authentication_classes = [TokenAuthentication]

    @extend_schema(request=OpenApiTypes.OBJECT, responses=IngestResult, parameters=[SOURCE_PARAM])
    def post(self, request):
        body = request.body
        key = self.source_key(request)
        if key:
            source = _source(key, IngestionKind.SALESFORCE)
            signatures.standard_webhook_verify(
                secrets=source.secrets(),
                msg_id=request.headers.get("webhook-id", ""),
                timestamp=request.headers.get("webhook-timestamp", ""),
                signature_header=request.headers.get("webhook-signature", ""),
                body=body,
            )
            tenant = source.tenant
        elif request.user and request.user.is_authenticated:
            tenant = resolve_request_tenant(request)
            if not has_perm(request.user, tenant, Perm.CREATE_EVENT):
                raise errors.PermissionDenied(details={"required_permission": Perm.CREATE_EVENT})
        else:
            raise signatures.SignatureError("Name an ingestion source (?source=) and sign, or authenticate.")
        check_rate(tenant=tenant, scope="ingest")
        return _store(tenant, normalizers.salesforce_events(_json(body)))
