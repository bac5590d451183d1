"""The seed's HTTP flow, in order, through the API: one activity from DRAFT to ACTIVE in PROD,
a new version, rollback and emergency suspension; and every refusal in the error envelope."""

import pytest

from registry.models import ActivityStatus

PO = {
    "name": "PO_Approval",
    "version": "1.0.0",
    "ebcl_source": 'ACTIVITY "PO_Approval"...',
    "owner": "Finance Department",
    "authority": "Procurement Policy v3.2",
    "created_by": "admin@company.com",
    "description": "Purchase order approval workflow",
    "category": "Procurement",
}
TYPES = ("TECHNICAL", "BUSINESS", "COMPLIANCE", "SECURITY")


@pytest.fixture
def clients(world, api_client_for):
    return {
        "creator": api_client_for(world.creator),
        "admin": api_client_for(world.admin),
        "viewer": api_client_for(world.viewer),
        "other": api_client_for(world.other_admin),
        **{kind: api_client_for(user) for kind, user in world.approvers.items()},
    }


def _approve_all(clients, activity_id):
    for kind in TYPES:
        body = {
            "approver_id": f"{kind.lower()}@company.com",
            "approver_role": kind.title(),
            "approval_type": kind,
            "comments": "Please review",
        }
        response = clients["creator"].post(f"/api/v1/activities/{activity_id}/request-approval", body, format="json")
        assert response.status_code == 201, response.json()
        approval_id = response.json()["approvals"][0]["approval_id"]
        response = clients[kind].post(
            f"/api/v1/activities/{activity_id}/approve?approval_id={approval_id}",
            {"approval_status": "APPROVED", "comments": "Approved."},
            format="json",
        )
        assert response.status_code == 200, response.json()
    return response.json()["activity"]


def test_seed_flow_from_draft_to_active_in_prod_through_rollback_and_suspension(clients, world):
    # Create
    response = clients["creator"].post("/api/v1/activities", PO, format="json")
    assert response.status_code == 201, response.json()
    v1 = response.json()
    assert v1["status"] == "DRAFT" and v1["created_by"] == "acme-member"
    activity_id = v1["activity_id"]

    # Get, latest, list
    assert clients["viewer"].get(f"/api/v1/activities/{activity_id}").json()["name"] == "PO_Approval"
    assert clients["viewer"].get("/api/v1/activities/latest/PO_Approval").json()["activity_id"] == activity_id

    # Request approval (the seed's body) and the pending queue
    response = clients["creator"].post(
        f"/api/v1/activities/{activity_id}/request-approval",
        {
            "approver_id": "compliance@company.com",
            "approver_role": "Compliance Officer",
            "approval_type": "COMPLIANCE",
            "comments": "Please review for SOX compliance",
        },
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["activity"]["status"] == "REVIEW"
    pending = clients["COMPLIANCE"].get("/api/v1/approvals/pending").json()
    assert pending["count"] == 1 and pending["results"][0]["approval_type"] == "COMPLIANCE"
    approval_id = pending["results"][0]["approval_id"]
    response = clients["COMPLIANCE"].post(
        f"/api/v1/activities/{activity_id}/approve?approval_id={approval_id}",
        {"approval_status": "APPROVED", "comments": "SOX compliant. Approved."},
        format="json",
    )
    assert response.status_code == 200 and response.json()["activity"]["status"] == "REVIEW"
    for kind in ("TECHNICAL", "BUSINESS", "SECURITY"):
        response = clients["creator"].post(
            f"/api/v1/activities/{activity_id}/request-approval", {"approval_type": kind}, format="json"
        )
        approval_id = response.json()["approvals"][0]["approval_id"]
        response = clients[kind].post(
            f"/api/v1/activities/{activity_id}/approve?approval_id={approval_id}",
            {"approval_status": "APPROVED"},
            format="json",
        )
    assert response.json()["activity"]["status"] == "APPROVED"

    # Deploy to PROD for acme-corp
    response = clients["admin"].post(
        f"/api/v1/activities/{activity_id}/deploy",
        {
            "environment": "PROD",
            "tenant_id": "acme-corp",
            "deployed_by": "devops@company.com",
            "deployment_notes": "Initial production deployment",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "ACTIVE"
    assert clients["viewer"].get(f"/api/v1/activities/{activity_id}").json()["status"] == "ACTIVE"
    assert clients["viewer"].get("/api/v1/activities?status=ACTIVE&category=Procurement").json()["count"] == 1

    # New version, approved and deployed: supersedes v1
    response = clients["creator"].post(
        f"/api/v1/activities/{activity_id}/new-version",
        {
            "version_type": "MINOR",
            "change_summary": "Added CFO approval for amounts > $50K",
            "breaking_changes": ["Changed approval threshold from $100K to $50K"],
            "created_by": "policy@company.com",
        },
        format="json",
    )
    assert response.status_code == 201
    v2_id = response.json()["activity_id"]
    assert response.json()["version"] == "1.1.0"
    _approve_all(clients, v2_id)
    d2 = (
        clients["admin"]
        .post(f"/api/v1/activities/{v2_id}/deploy", {"environment": "PROD", "tenant_id": "acme-corp"}, format="json")
        .json()
    )
    assert d2["previous_deployment_id"] is not None
    versions = clients["viewer"].get(f"/api/v1/activities/{v2_id}/versions").json()
    assert [v["version"] for v in versions] == ["1.1.0", "1.0.0"]

    # Rollback: v1 is live again
    response = clients["admin"].post(
        f"/api/v1/activities/{v2_id}/rollback?deployment_id={d2['deployment_id']}",
        {"rollback_reason": "Critical bug found in production", "rolled_back_by": "devops@company.com"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["rolled_back"]["status"] == "ROLLED_BACK"
    assert response.json()["reactivated"]["activity_id"] == activity_id
    deployments = clients["viewer"].get(f"/api/v1/activities/{activity_id}/deployments").json()
    assert deployments[0]["status"] == "ACTIVE"

    # Executions and stats
    for outcome, ms in (("SUCCESS", 500), ("SUCCESS", 540), ("FAILURE", 530)):
        response = clients["creator"].post(
            f"/api/v1/activities/{activity_id}/executions",
            {"outcome": outcome, "duration_ms": ms, "evidence_ref": "evidence://vault/1"},
            format="json",
        )
        assert response.status_code == 201, response.json()
    stats = clients["viewer"].get(f"/api/v1/activities/{activity_id}/stats").json()
    assert set(stats) == {
        "total_executions",
        "successful_executions",
        "failed_executions",
        "avg_duration_ms",
        "last_execution_at",
    }
    assert (
        stats["total_executions"],
        stats["successful_executions"],
        stats["failed_executions"],
        stats["avg_duration_ms"],
    ) == (3, 2, 1, 523)
    assert len(clients["viewer"].get(f"/api/v1/activities/{activity_id}/executions?limit=2").json()) == 2

    # Emergency suspension
    response = clients["admin"].post(
        f"/api/v1/activities/{activity_id}/suspend",
        {"reason": "Policy violation detected", "suspended_by": "compliance@company.com"},
        format="json",
    )
    assert response.status_code == 200 and response.json()["status"] == "SUSPENDED"
    deployments = clients["viewer"].get(f"/api/v1/activities/{activity_id}/deployments").json()
    assert {d["status"] for d in deployments} <= {"SUSPENDED", "SUPERSEDED"}


def test_latest_picks_the_highest_semantic_version(world, clients):
    for version in ("1.9.0", "1.10.0", "1.2.0"):
        world.create(name="Sem", version=version)

    assert clients["viewer"].get("/api/v1/activities/latest/Sem").json()["version"] == "1.10.0"
    assert clients["viewer"].get("/api/v1/activities/latest/Sem?status=ACTIVE").status_code == 404


def test_latest_can_be_limited_to_a_status(world, clients):
    world.active(name="Sem", version="1.0.0")
    world.create(name="Sem", version="2.0.0")

    assert clients["viewer"].get("/api/v1/activities/latest/Sem?status=ACTIVE").json()["version"] == "1.0.0"


def test_list_filters_by_status_category_name_owner_environment(world, clients):
    world.active(name="A", category="Procurement", owner="Finance")
    world.create(name="B", category="HR", owner="People")

    def names(query):
        return sorted(a["name"] for a in clients["viewer"].get(f"/api/v1/activities?{query}").json()["results"])

    assert names("status=ACTIVE") == ["A"]
    assert names("category=HR") == ["B"]
    assert names("name=B") == ["B"]
    assert names("owner=Finance") == ["A"]
    assert names("environment=PROD") == ["A"]
    assert names("environment=DEV") == []


def test_illegal_transition_answers_400_with_current_and_target_state(world, clients):
    activity = world.create()

    response = clients["admin"].post(f"/api/v1/activities/{activity.pk}/deploy", {"environment": "PROD"}, format="json")

    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "error_code": "INVALID_TRANSITION",
        "message": "Transition from DRAFT to DEPLOYED not allowed",
        "details": {"current_state": "DRAFT", "target_state": "DEPLOYED", "entity_type": "activity"},
    }


def test_frozen_content_answers_409_immutable(world, clients):
    activity = world.approved()

    response = clients["creator"].patch(f"/api/v1/activities/{activity.pk}", {"ebcl_source": "changed"}, format="json")

    assert response.status_code == 409 and response.json()["error_code"] == "IMMUTABLE"


def test_self_approval_answers_403(world, clients, api_client_for):
    creator = world.approvers["SECURITY"]
    client = api_client_for(creator)
    activity_id = client.post("/api/v1/activities", {**PO, "name": "Mine"}, format="json").json()["activity_id"]
    approval_id = client.post(
        f"/api/v1/activities/{activity_id}/request-approval", {"approval_type": "SECURITY"}, format="json"
    ).json()["approvals"][0]["approval_id"]

    response = client.post(
        f"/api/v1/activities/{activity_id}/approve?approval_id={approval_id}",
        {"approval_status": "APPROVED"},
        format="json",
    )

    assert response.status_code == 403 and response.json()["error_code"] == "PERMISSION_DENIED"


def test_wrong_role_answers_403(world, clients):
    activity = world.create()
    _, approvals = world.request_all(activity)
    technical = next(a for a in approvals if a.approval_type == "TECHNICAL")

    response = clients["BUSINESS"].post(
        f"/api/v1/activities/{activity.pk}/approve?approval_id={technical.pk}",
        {"approval_status": "APPROVED"},
        format="json",
    )

    assert response.status_code == 403


def test_viewer_cannot_create(clients):
    assert clients["viewer"].post("/api/v1/activities", PO, format="json").status_code == 403


def test_another_tenants_activity_is_404_everywhere(world, clients):
    activity = world.active()
    paths = ["", "/deployments", "/versions", "/executions", "/stats", "/conflicts", "/approvals"]

    for suffix in paths:
        assert clients["other"].get(f"/api/v1/activities/{activity.pk}{suffix}").status_code == 404, suffix
    response = clients["other"].post(f"/api/v1/activities/{activity.pk}/suspend", {"reason": "x"}, format="json")
    assert response.status_code == 404 and response.json()["error_code"] == "NOT_FOUND"
    assert clients["other"].get("/api/v1/activities").json()["count"] == 0
    assert world.reload(activity).status == ActivityStatus.ACTIVE


def test_malformed_id_is_404_not_500(clients):
    assert clients["viewer"].get("/api/v1/activities/not-a-uuid").status_code == 404


def test_unknown_fields_and_bad_types_are_400_validation_errors(clients):
    response = clients["creator"].post("/api/v1/activities", {**PO, "colour": "red"}, format="json")
    assert response.status_code == 400 and response.json()["error_code"] == "VALIDATION_ERROR"

    response = clients["creator"].post("/api/v1/activities", {**PO, "version": "one"}, format="json")
    assert response.status_code == 400 and response.json()["details"] == {
        "version": ["version must be a semantic version (MAJOR.MINOR.PATCH)."]
    }


def test_execution_against_an_inactive_activity_is_refused(world, clients):
    activity = world.approved()

    response = clients["creator"].post(
        f"/api/v1/activities/{activity.pk}/executions", {"outcome": "SUCCESS", "duration_ms": 5}, format="json"
    )

    assert response.status_code == 409


def test_conflicts_are_recorded_and_listed(world, clients):
    activity = world.create()

    response = clients["creator"].post(
        f"/api/v1/activities/{activity.pk}/conflicts",
        {
            "documents": ["policy-v3.pdf", "sop-2024.docx"],
            "chosen_path": "policy-v3",
            "justification": "Newer policy wins",
            "conflict_type": "threshold",
        },
        format="json",
    )

    assert response.status_code == 201
    listed = clients["viewer"].get(f"/api/v1/activities/{activity.pk}/conflicts").json()
    assert listed[0]["chosen_path"] == "policy-v3" and listed[0]["resolved_by"] == "acme-member"


def test_pending_mine_lists_only_what_the_caller_may_decide(world, clients):
    world.request_all(world.create())

    mine = clients["TECHNICAL"].get("/api/v1/approvals/pending?mine=true").json()

    assert [a["approval_type"] for a in mine["results"]] == ["TECHNICAL"]
    assert clients["viewer"].get("/api/v1/approvals/pending?approval_type=BUSINESS").json()["count"] == 1
