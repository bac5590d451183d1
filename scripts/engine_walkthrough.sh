#!/usr/bin/env bash
# The dynamic workflow engine (seed 002) against a running OCX (default `make run`, demo data
# seeded): load the seed's 49-activity test-cycle template as a new version and publish it,
# start an instance, complete its manual steps through the API while the parallel phases fan
# out, then its timeline; an instance that fails (an incident) and an operator's skip; a template
# run as a composite work unit of the runs app; and the engine's events on the spine.
# Usage: scripts/engine_walkthrough.sh [base-url]     (demo users, password ocx-demo)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BASE=${1:-http://127.0.0.1:8000}
# shellcheck source=lib.sh
. "$HERE/lib.sh"
ADMIN=$(token acme-admin)
call() { # method path [body]
  curl -sf -X"$1" "$BASE$2" -H "Authorization: Token $ADMIN" -H 'Content-Type: application/json' ${3:+-d "$3"}
}
# waiting ID: the waiting manual activities of instance ID, one "id key" a line
waiting() { call GET "/api/v1/workflow/instances/$1" | python3 -c '
import json, sys
for phase in json.load(sys.stdin)["phases"]:
    for a in phase["activities"]:
        if a["state"] == "waiting":
            print(a["id"], a["instance_id"])'; }
state() { call GET "/api/v1/workflow/instances/$1" | json state; }
until_not() { # ID STATE [seconds]: wait while the instance is in STATE
  local deadline=$((SECONDS + ${3:-60}))
  while [ "$(state "$1")" = "$2" ]; do
    [ $SECONDS -lt $deadline ] || { echo "instance $1 is still $2" >&2; exit 1; }
    sleep 0.5
  done
}

step "Load the test-cycle template (its JSON form) as a new draft version, validate and publish it"
DEF=$(cat "$HERE/../workflow/engine/data/test_cycle.json")
call POST /api/v1/workflow/templates/validate "$DEF" | json activities
TID=$(call POST /api/v1/workflow/templates "$DEF" | json id)
call POST "/api/v1/workflow/templates/$TID/publish" | python3 -c 'import json,sys; t=json.load(sys.stdin); print(t["name"], "v%s" % t["version"], t["status"])'

step "Start an instance (documents given at start: the test-execution phase fans out over them)"
IID=$(call POST /api/v1/workflow/instances \
  "{\"template_id\": $TID, \"context\": {\"documents\": [\"contract.pdf\", \"invoice.pdf\", \"ledger.xlsx\"]}}" | json id)
echo "instance $IID: $(state "$IID")"

step "Complete the manual steps through the API as they come (the data owners step names three)"
done_steps=0
deadline=$((SECONDS + 300))
while [ "$(state "$IID")" = running ]; do
  [ $SECONDS -lt $deadline ] || { echo "instance $IID did not finish" >&2; exit 1; }
  steps=$(waiting "$IID")
  if [ -z "$steps" ]; then sleep 0.3; continue; fi
  while read -r AID KEY; do
    RESULT='{}'
    [ "$KEY" = identify_data_owners ] && RESULT='{"data_owners": ["operations", "treasury", "crm"]}'
    call POST "/api/v1/workflow/instances/$IID/activities/$AID/complete" "{\"result\": $RESULT}" >/dev/null
    done_steps=$((done_steps + 1))
    [ $((done_steps % 8)) -eq 1 ] && echo "completed $KEY"
  done <<<"$steps"
done
echo "$done_steps manual steps completed; instance $IID: $(state "$IID")"

step "The parallel phases fanned out: one activity instance per item, joined once"
call GET "/api/v1/workflow/instances/$IID" | python3 -c '
import json, sys
for phase in json.load(sys.stdin)["phases"]:
    for a in phase["activities"]:
        if a["children_total"]:
            print("%s: %s over %s -> %s/%s branches, %s" % (phase["name"], a["instance_id"], phase["fan_out_over"],
                  a["children_done"], a["children_total"], a["state"]))'
call GET "/api/v1/workflow/instances/$IID" | json context.final_report.text | head -3

step "The instance's timeline (its events, oldest first)"
call GET "/api/v1/workflow/instances/$IID/timeline" | python3 -c '
import collections, json, sys
body = json.load(sys.stdin)
print(body["count"], "events:", dict(collections.Counter(e["type"] for e in body["results"]).most_common(6)))'

step "An instance that fails: a step whose condition cannot be evaluated on its context -> an incident"
SMALL=$(cat <<'JSON'
{"name": "walkthrough-review", "description": "engine walkthrough", "phases": [
  {"key": "review", "name": "Review", "order": 1, "execution_mode": "sequential", "activities": [
    {"key": "large_order_check", "name": "Large order check", "handler_name": "AutomatedActivityHandler",
     "conditional_expression": "amount > 100", "parameters": {"action": "START"}},
    {"key": "log", "name": "Log", "handler_name": "AutomatedActivityHandler", "parameters": {"action": "COMPLETE"}}]}]}
JSON
)
BID=$(call POST /api/v1/workflow/templates "$SMALL" | json id)
call POST "/api/v1/workflow/templates/$BID/publish" >/dev/null
FID=$(call POST /api/v1/workflow/instances "{\"template_id\": $BID, \"context\": {}}" | json id)
until_not "$FID" running 60
echo "instance $FID: $(state "$FID")"
call GET "/api/v1/workflow/incidents?template_id=$BID" | python3 -c '
import json, sys
for g in json.load(sys.stdin)["groups"]:
    print(g["count"], "x", g["error_type"] + ":", g["message"][:90])'

step "The operator skips the failed step with a reason: the instance moves on"
AID=$(call GET "/api/v1/workflow/incidents?template_id=$BID" | json incidents.0.activity_id)
call POST "/api/v1/workflow/instances/$FID/activities/$AID/skip" '{"reason": "partner endpoint retired"}' | json state
until_not "$FID" running 60
echo "instance $FID: $(state "$FID")"

step "A template is a composite work unit: run it through the runs app (input = the instance's context)"
RUN=$(call POST /api/v1/work-units/walkthrough-review/run \
  '{"work_unit_type": "composite", "input": {"amount": 500}}' | json id)
deadline=$((SECONDS + 60))
while now=$(call GET "/api/v1/runs/$RUN" | json status); [ "$now" = running ] || [ "$now" = pending ]; do
  [ $SECONDS -lt $deadline ] || { echo "run $RUN is still $now" >&2; exit 1; }
  sleep 0.5
done
call GET "/api/v1/runs/$RUN" | python3 -c 'import json,sys; r=json.load(sys.stdin); print("run", r["id"][:8], r["status"], r.get("error_type") or "", "instance", r.get("workflow_instance_ref"))'

step "The spine: the engine's events"
call GET "/api/v1/events?types=workflow.instance.completed,workflow.incident.raised,workflow.incident.resolved,workflow.activity.skipped&page_size=6" \
  | json 'results.*.type'
printf '\nengine walkthrough complete: test cycle %s (%s manual steps), failed-then-skipped %s, composite run %s.\n' \
  "$IID" "$done_steps" "$FID" "$RUN"
