#!/usr/bin/env bash
# The event spine seed's usage flows against a running OCX (default `make run`): create (and
# repeat: idempotent), filtered lists and pages, per-user read state, stats, SSE resume with
# Last-Event-ID, and a signed Standard Webhooks delivery (retried: no duplicate).
# Usage: scripts/feed_walkthrough.sh [base-url]
# The webhook step needs the demo source's key and secret: taken from OCX_WEBHOOK_KEY /
# OCX_WEBHOOK_SECRET, else read from the local database with manage.py (embedded mode).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
cd "$HERE/.."
BASE=${1:-http://127.0.0.1:8000}
# shellcheck source=lib.sh
. "$HERE/lib.sh"
MEMBER=$(token acme-member); VIEWER=$(token acme-viewer); GLOBEX=$(token globex-member)
status_of() { # token method path [body] -> "<http status> <body>"
  curl -s -o /tmp/ocx-feed.json -w '%{http_code}' -X"$2" "$BASE$3" -H "Authorization: Bearer $1" \
    -H 'Content-Type: application/json' ${4:+-d "$4"}
}

KEY="walkthrough-$(date +%s%N)"
EVENT="{\"type\": \"crm.lead.high_intent\", \"source\": \"internal\", \"source_system\": \"internal\",
  \"source_object_id\": \"lead-456\", \"title\": \"High-intent lead <script>x</script>detected\",
  \"description\": \"Lead opened email 5 times and visited pricing\",
  \"event_metadata\": {\"lead_id\": \"lead-456\", \"email_opens\": 5}, \"entity_id\": \"lead-456\",
  \"entity_type\": \"lead\", \"priority\": \"high\", \"tags\": [\"lead\", \"high-intent\"],
  \"idempotency_key\": \"$KEY\"}"

step "Create an event (201), send it again (200, the same event)"
first=$(status_of "$MEMBER" POST /api/v1/events "$EVENT"); ID=$(json id </tmp/ocx-feed.json)
echo "$first id=$ID title=$(json title </tmp/ocx-feed.json)"
again=$(status_of "$MEMBER" POST /api/v1/events "$EVENT")
echo "$again id=$(json id </tmp/ocx-feed.json)"
[ "$first" = 201 ] && [ "$again" = 200 ] && [ "$(json id </tmp/ocx-feed.json)" = "$ID" ]

step "Unread high-intent leads since 2024-01-01, 50 a page; then page 1 of a campaign, 50, desc"
curl -sf "$BASE/api/v1/events?types=crm.lead.high_intent,crm.lead.replied&start_date=2024-01-01&read=false&page_size=50" \
  -H "Authorization: Bearer $MEMBER" | json '*' >/dev/null
curl -sf "$BASE/api/v1/events?types=crm.lead.high_intent&read=false&page_size=50" -H "Authorization: Bearer $MEMBER" \
  | python3 -c "import json,sys; d=json.load(sys.stdin); print(len(d['results']), 'unread high-intent; has_more', d['has_more'])"
curl -sf "$BASE/api/v1/events?entity_type=campaign&entity_id=camp-001&page=1&pageSize=50&sortOrder=desc" \
  -H "Authorization: Bearer $MEMBER" | python3 -c "import json,sys; print(len(json.load(sys.stdin)['results']), 'campaign events')"

step "Read state is per user: the member reads it, the viewer still has it unread"
curl -sf -XPATCH "$BASE/api/v1/events/$ID/read" -H "Authorization: Bearer $MEMBER" | json read
curl -sf "$BASE/api/v1/events/$ID" -H "Authorization: Bearer $VIEWER" | json read
curl -sf -XPATCH "$BASE/api/v1/events/read-all" -H "Authorization: Bearer $MEMBER" -H 'Content-Type: application/json' -d "{\"up_to_id\": $ID}" >/dev/null
curl -sf "$BASE/api/v1/events/stats" -H "Authorization: Bearer $MEMBER" | python3 -c "import json,sys; d=json.load(sys.stdin); print('total', d['total'], 'unread', d['unread'])"

step "Another tenant's event is 404"
code=$(status_of "$GLOBEX" GET "/api/v1/events/$ID"); echo "$code"; [ "$code" = 404 ]

step "SSE: reconnect with Last-Event-ID = id - 1 replays exactly the missed event"
curl -sN --max-time 3 "$BASE/api/v1/events/stream?token=$MEMBER&types=crm.lead.high_intent" \
  -H "Last-Event-ID: $((ID - 1))" | grep '^id:' | head -3 || true

step "Standard Webhooks delivery, signed; the retry is a duplicate"
if [ -z "${OCX_WEBHOOK_KEY:-}" ]; then
  read -r OCX_WEBHOOK_KEY OCX_WEBHOOK_SECRET < <(.venv/bin/python manage.py shell -v 0 -c \
    "from activity_feed.models import IngestionSource as S; s=S.objects.all_tenants().get(name='demo-webhook'); print(s.key, s.secret)" 2>/dev/null)
fi
BODY='{"type":"invoice.paid","timestamp":"2026-11-20T10:00:00Z","data":{"title":"Invoice 42 paid","entity_type":"invoice","entity_id":"in_42"}}'
MSG="msg_$(date +%s%N)"; TS=$(date +%s)
SIG=$(.venv/bin/python -c "import sys; from activity_feed.ingest.signatures import standard_webhook_sign as s; print(s(secret=sys.argv[1], msg_id=sys.argv[2], timestamp=int(sys.argv[3]), body=sys.argv[4].encode()))" \
  "$OCX_WEBHOOK_SECRET" "$MSG" "$TS" "$BODY")
for attempt in 1 2; do
  curl -sf -XPOST "$BASE/api/v1/ingest/webhook/$OCX_WEBHOOK_KEY" -H 'Content-Type: application/json' \
    -H "webhook-id: $MSG" -H "webhook-timestamp: $TS" -H "webhook-signature: $SIG" -d "$BODY" \
    | python3 -c "import json,sys; d=json.load(sys.stdin); print('created', d['created'], 'duplicates', d['duplicates'])"
done
code=$(curl -s -o /dev/null -w '%{http_code}' -XPOST "$BASE/api/v1/ingest/webhook/$OCX_WEBHOOK_KEY" \
  -H 'Content-Type: application/json' -H "webhook-id: $MSG" -H "webhook-timestamp: $TS" \
  -H "webhook-signature: v1,AAAA" -d "$BODY"); echo "bad signature: $code"; [ "$code" = 401 ]
echo; echo "feed walkthrough: all steps succeeded"
