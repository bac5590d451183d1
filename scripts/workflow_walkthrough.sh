#!/usr/bin/env bash
# The workflow seed's HTTP examples as written (with the /api/v1 prefix), against a running OCX
# (default `make run`): create and move an intake task, watch the built-in trigger create the
# follow-up assessment task through Celery, action plans, metadata, SLA configs and stats.
# Usage: scripts/workflow_walkthrough.sh [base-url]     (demo users, password ocx-demo)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BASE=${1:-http://127.0.0.1:8000}
# shellcheck source=lib.sh
. "$HERE/lib.sh"
MEMBER=$(token acme-member); ADMIN=$(token acme-admin)
call() { # token method path [body]  (the seed's "Authorization: Bearer $TOKEN")
  curl -sf -X"$2" "$BASE$3" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' ${4:+-d "$4"}
}

step "Create Task"
TASK=$(call "$MEMBER" POST /api/v1/workflow/tasks '{
  "title": "Process Application", "description": "Review and process new application",
  "task_type": "intake", "priority": "high", "assigned_to": "acme-member",
  "due_date": "2024-01-15T10:00:00Z"}' | json id)
echo "task id=$TASK"

step "Transition Task State (new -> in_progress)"
call "$MEMBER" POST "/api/v1/workflow/tasks/$TASK/transition" '{
  "target_state": "in_progress",
  "context": {"reason": "Starting work", "estimated_completion": "2024-01-15T12:00:00Z"},
  "notes": "Beginning task execution"}' | json task.state

step "An illegal move answers 400 INVALID_TRANSITION"
code=$(curl -s -o /tmp/ocx-illegal.json -w '%{http_code}' -XPOST "$BASE/api/v1/workflow/tasks/$TASK/transition" \
  -H "Authorization: Bearer $MEMBER" -H 'Content-Type: application/json' -d '{"target_state": "new"}')
echo "$code $(json error_code </tmp/ocx-illegal.json) $(json details </tmp/ocx-illegal.json)"
[ "$code" = 400 ]

step "Get Task Details / List Tasks"
call "$MEMBER" GET "/api/v1/workflow/tasks/$TASK" | json allowed_transitions
call "$MEMBER" GET "/api/v1/workflow/tasks?state=in_progress&task_type=intake&limit=50" | json count

step "Complete it: the built-in trigger creates the assessment task (through Celery)"
call "$MEMBER" POST "/api/v1/workflow/tasks/$TASK/transition" '{"target_state": "completed"}' | json task.state
for _ in $(seq 1 30); do
  FOUND=$(call "$MEMBER" GET "/api/v1/workflow/tasks?task_type=assessment&limit=100" \
    | python3 -c "import json,sys; print(sum(1 for t in json.load(sys.stdin)['results'] if t['title'] == 'Assessment: Process Application' and t['metadata'].get('source_task_id') == $TASK))")
  [ "$FOUND" = 1 ] && break
  sleep 1
done
echo "follow-up assessment tasks for #$TASK: $FOUND"
[ "$FOUND" = 1 ]

step "Create ActionPlan / Activate / Archive"
PLAN=$(call "$ADMIN" POST /api/v1/workflow/action-plans '{
  "title": "Q1 Compliance Plan", "description": "Quarterly compliance action plan",
  "goals": ["Complete all pending assessments", "Update compliance documentation", "Schedule quarterly review"]}' | json id)
call "$ADMIN" POST "/api/v1/workflow/action-plans/$PLAN/activate" | json action_plan.state
call "$ADMIN" POST "/api/v1/workflow/action-plans/$PLAN/archive" | json action_plan.state

step "Get Workflow Metadata (no authentication needed)"
curl -sf "$BASE/api/v1/workflow/metadata" | python3 -c "import json,sys; d=json.load(sys.stdin); print(sorted(d))"

step "Create SLA Configuration / List SLA Configurations"
call "$ADMIN" POST /api/v1/workflow/sla-configs "{
  \"service_area\": \"intake-walkthrough-$(date +%s)\", \"target_minutes\": 60, \"task_type\": \"intake\", \"active\": true}" | json target_minutes
call "$ADMIN" GET "/api/v1/workflow/sla-configs?active_only=true" | json count

step "Get Workflow Statistics"
call "$ADMIN" GET /api/v1/workflow/stats | python3 -c "import json,sys; d=json.load(sys.stdin); print(sorted(d))"
echo; echo "workflow walkthrough: all steps succeeded"
