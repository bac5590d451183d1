#!/usr/bin/env bash
# Runs (seed 001) against a running OCX (default `make run`, demo data seeded): PO_Approval run
# in process and through scripts/agent.py, an idempotent retry, a cancellation, a composite run (a
# workflow template) started and cancelled, a lease that expires and is re-offered, then all of it
# in /activity/team, the spine and the registry's stats.
# Usage: scripts/runs_walkthrough.sh [base-url]     (demo users, password ocx-demo)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BASE=${1:-http://127.0.0.1:8000}
# shellcheck source=lib.sh
. "$HERE/lib.sh"
KEY="walkthrough-$(date +%s)"
AGENT=(python3 "$HERE/agent.py" --base "$BASE" --user acme-member --topics PO_Approval --max-runs 1 --wait-seconds 5)
call() { # user method path [body]
  local t; t=$(token "$1")
  curl -sf -X"$2" "$BASE$3" -H "Authorization: Token $t" -H 'Content-Type: application/json' ${4:+-d "$4"}
}
wait_for() { # run-id status [seconds]: poll the run until it is in that status
  local deadline=$((SECONDS + ${3:-30})) now
  while now=$(call acme-viewer GET "/api/v1/runs/$1" | json status); [ "$now" != "$2" ]; do
    [ $SECONDS -lt $deadline ] || { echo "run $1 is $now, expected $2" >&2; exit 1; }
    sleep 1
  done
  echo "run $1: $now"
}
PO='{"purchase_order":{"id":"PO-9001","amount":25000,"vendor":"Initech"}}'

step "Run PO_Approval in process (its handler checks the amount against the approval thresholds)"
RUN=$(call acme-member POST /api/v1/work-units/PO_Approval/run "{\"input\":$PO,\"idempotency_key\":\"$KEY\"}" | json id)
wait_for "$RUN" completed
call acme-viewer GET "/api/v1/runs/$RUN" | json output.decision
call acme-viewer GET "/api/v1/runs/$RUN" | json output.approver

step "Retry the same POST (same idempotency_key): the first run comes back"
[ "$(call acme-member POST /api/v1/work-units/PO_Approval/run "{\"input\":$PO,\"idempotency_key\":\"$KEY\"}" | json id)" = "$RUN" ] && echo "same run: $RUN"

step "Run PO_Approval through an external agent (scripts/agent.py claims, heartbeats, completes)"
RUN2=$(call acme-member POST /api/v1/work-units/PO_Approval/run '{"execution":"agent","input":{"purchase_order":{"id":"PO-9002","amount":150000}}}' | json id)
"${AGENT[@]}" --once --work-seconds 1
wait_for "$RUN2" completed
call acme-viewer GET "/api/v1/runs/$RUN2" | json worker_id

step "Cancel a pending run"
RUN3=$(call acme-member POST /api/v1/work-units/PO_Approval/run '{"execution":"agent","input":{"purchase_order":{"amount":10}}}' | json id)
call acme-member POST "/api/v1/runs/$RUN3/cancel" '{"reason":"raised by mistake"}' | json status

step "Run a composite work unit (the demo's test_cycle workflow template) and cancel it"
RUN5=$(call acme-member POST /api/v1/work-units/test_cycle/run '{"work_unit_type":"composite","input":{"demo":true}}' | json id)
call acme-viewer GET "/api/v1/runs/$RUN5" | json status                  # running at once
echo "workflow instance $(call acme-viewer GET "/api/v1/runs/$RUN5" | json workflow_instance_ref)"
call acme-member POST "/api/v1/runs/$RUN5/cancel" '{"reason":"walkthrough"}' | json status

step "Let a lease expire: a stalled agent claims and walks away; the beat job re-offers the run"
RUN4=$(call acme-member POST /api/v1/work-units/PO_Approval/run '{"execution":"agent","input":{"purchase_order":{"amount":500}}}' | json id)
"${AGENT[@]}" --once --stall --lease-seconds 5
wait_for "$RUN4" running 5
wait_for "$RUN4" pending 60    # lease 5 s + the runs.settle_leases period (OCX_RUNS_SETTLE_INTERVAL, 10 s)
call acme-viewer GET "/api/v1/runs/$RUN4" | json error_type
"${AGENT[@]}" --once --work-seconds 0.5
wait_for "$RUN4" completed
echo "attempt $(call acme-viewer GET "/api/v1/runs/$RUN4" | json attempt)"

step "Team activity (completion / error / run / delegation)"
call acme-viewer GET "/api/v1/activity/team?limit=6" | json '*.type'
step "Summary of the last 24 hours"
call acme-viewer GET "/api/v1/activity/summary?hours=24"; echo
step "The spine: the runs' events"
call acme-viewer GET "/api/v1/events?types=runs.run.completed,runs.run.cancelled,runs.run.requeued&page_size=5" | json 'results.*.title'
step "The registry's stats count the runs"
AID=$(call acme-viewer GET "/api/v1/activities/latest/PO_Approval?status=ACTIVE" | json activity_id)
call acme-viewer GET "/api/v1/activities/$AID/stats"; echo
printf '\nwalkthrough complete: in-process run %s, agent run %s, cancelled %s, composite %s, re-offered and completed %s.\n' "$RUN" "$RUN2" "$RUN3" "$RUN5" "$RUN4"
