#!/usr/bin/env bash
# The seed's registry curl examples, in order, against a running OCX (default `make run`):
# one activity from DRAFT to ACTIVE in PROD, a new version, rollback and emergency suspension.
# Usage: scripts/registry_walkthrough.sh [base-url]     (demo users, password ocx-demo)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BASE=${1:-http://127.0.0.1:8000}
# shellcheck source=lib.sh
. "$HERE/lib.sh"
NAME="PO_Approval_demo_$(date +%s)"
call() { # user method path [body]
  local t; t=$(token "$1")
  curl -sf -X"$2" "$BASE$3" -H "Authorization: Token $t" -H 'Content-Type: application/json' ${4:+-d "$4"}
}

step "Create Activity"
ID=$(call acme-member POST /api/v1/activities "{\"name\":\"$NAME\",\"version\":\"1.0.0\",\"ebcl_source\":\"ACTIVITY \\\"PO_Approval\\\"...\",\"owner\":\"Finance Department\",\"authority\":\"Procurement Policy v3.2\",\"created_by\":\"admin@company.com\",\"description\":\"Purchase order approval workflow\",\"category\":\"Procurement\"}" | json 'activity_id')
echo "activity_id=$ID"
step "Get Activity / Get Latest Version / List Activities"
call acme-viewer GET "/api/v1/activities/$ID" | json 'status'
call acme-viewer GET "/api/v1/activities/latest/$NAME" | json 'version'
call acme-viewer GET "/api/v1/activities?status=DRAFT&category=Procurement" | json 'count'

approve_all() { # activity id
  for pair in TECHNICAL:acme-technical BUSINESS:acme-business COMPLIANCE:acme-compliance SECURITY:acme-security; do
    kind=${pair%%:*}; user=${pair##*:}
    step "Request Approval ($kind)"
    AP=$(call acme-member POST "/api/v1/activities/$1/request-approval" "{\"approver_id\":\"$user\",\"approver_role\":\"$kind approver\",\"approval_type\":\"$kind\",\"comments\":\"Please review\"}" | json 'approvals.0.approval_id')
    call "$user" GET "/api/v1/approvals/pending?approval_type=$kind" | json 'count'
    step "Approve ($kind)"
    call "$user" POST "/api/v1/activities/$1/approve?approval_id=$AP" '{"approval_status":"APPROVED","comments":"Approved."}' | json 'activity.status'
  done
}
approve_all "$ID"

step "Deploy Activity to PROD (acme-corp)"
call acme-admin POST "/api/v1/activities/$ID/deploy" '{"environment":"PROD","tenant_id":"acme-corp","deployed_by":"devops@company.com","deployment_notes":"Initial production deployment"}' | json 'status'
call acme-viewer GET "/api/v1/activities/$ID" | json 'status'

step "Record executions, Get Execution Stats"
call acme-member POST "/api/v1/activities/$ID/executions" '{"outcome":"SUCCESS","duration_ms":523,"evidence_ref":"evidence://vault/1"}' >/dev/null
call acme-viewer GET "/api/v1/activities/$ID/executions?limit=100" | json '0.outcome'
call acme-viewer GET "/api/v1/activities/$ID/stats"; echo

step "Create New Version (MINOR)"
V2=$(call acme-member POST "/api/v1/activities/$ID/new-version" '{"version_type":"MINOR","change_summary":"Added CFO approval for amounts > $50K","breaking_changes":["Changed approval threshold from $100K to $50K"],"created_by":"policy@company.com"}' | json 'activity_id')
approve_all "$V2"
D2=$(call acme-admin POST "/api/v1/activities/$V2/deploy" '{"environment":"PROD","tenant_id":"acme-corp"}' | json 'deployment_id')
step "Get Version History / List Deployments"
call acme-viewer GET "/api/v1/activities/$V2/versions" | json '*.version'
call acme-viewer GET "/api/v1/activities/$V2/deployments" | json '0.status'

step "Rollback Deployment"
call acme-admin POST "/api/v1/activities/$V2/rollback?deployment_id=$D2" '{"rollback_reason":"Critical bug found in production","rolled_back_by":"devops@company.com"}' | json 'reactivated.version'

step "Suspend Activity (Emergency)"
call acme-admin POST "/api/v1/activities/$ID/suspend" '{"reason":"Policy violation detected","suspended_by":"compliance@company.com"}' | json 'status'
printf '\nwalkthrough complete: %s went DRAFT → ACTIVE in PROD, was superseded, rolled back to, and suspended.\n' "$NAME"
