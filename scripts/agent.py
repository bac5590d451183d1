#!/usr/bin/env python3
"""A demo OCX agent (standard library only): claims runs, heartbeats while it works, completes
them — or fails them, retryably or not — against a running OCX.

    scripts/agent.py --base http://127.0.0.1:8000 --user acme-member --topics Vendor_Screening,PO_Approval
    scripts/agent.py --once                      # one long-polled claim, execute what came, exit
    scripts/agent.py --stall --once              # claim and walk away: the lease expires, the run is re-offered

It long-polls ``POST /api/v1/runs/claim`` (``wait_seconds``), so an idle agent costs the server
almost nothing. For PO_Approval it decides like the in-process handler (the thresholds of the
seed's EBCL source); for any other work unit it "works" ``--work-seconds`` and echoes its input.
A 409 on a report means its lease was taken away (expired and re-offered, or the run finished):
the agent drops the run and goes on. A heartbeat answering ``cancel_requested`` stops the work;
the agent's next report acknowledges the cancellation.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request

THRESHOLDS = ((100_000, "CFO"), (10_000, "Finance Manager"))


class Stale(Exception):
    """409: the lease is no longer ours."""


class Api:
    def __init__(self, base: str, token: str | None = None, tenant: str | None = None):
        self.base, self.token, self.tenant = base.rstrip("/"), token, tenant

    def call(self, method: str, path: str, body: dict | None = None, timeout: float = 60) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Content-Type", "application/json")
        request.add_header("Accept", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        if self.tenant:
            request.add_header("X-Tenant", self.tenant)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            payload = exc.read().decode(errors="replace")
            if exc.code == 409:
                raise Stale(payload) from None
            raise SystemExit(f"{method} {path}: HTTP {exc.code} {payload}") from None
        return json.loads(raw) if raw else {}

    def login(self, username: str, password: str) -> None:
        self.token = self.call("POST", "/api/v1/auth/token", {"username": username, "password": password})["token"]


def po_decision(data: dict) -> dict:
    order = (data or {}).get("purchase_order") or {}
    amount = float(order.get("amount", 0))
    for threshold, approver in THRESHOLDS:
        if amount > threshold:
            return {"purchase_order_id": order.get("id"), "amount": amount, "decision": "approval_required",
                    "approver": approver, "threshold": threshold, "decided_by": "scripts/agent.py"}  # fmt: skip
    return {"purchase_order_id": order.get("id"), "amount": amount, "decision": "approved", "approver": None,
            "decided_by": "scripts/agent.py"}  # fmt: skip


def execute(api: Api, run: dict, args) -> str:
    """Work on one claimed run, heartbeating; return how it ended (for the log)."""
    lease = {"lease_token": run["lease_token"], "attempt": run["attempt"]}
    rid = run["id"]
    started = time.monotonic()
    progress = (run.get("details") or {}).get("progress", 0.0)  # the checkpoint of a previous attempt
    try:
        while time.monotonic() - started < args.work_seconds:
            time.sleep(min(args.heartbeat_seconds, args.work_seconds))
            progress = min(1.0, progress + args.heartbeat_seconds / max(args.work_seconds, 0.001))
            beat = api.call(
                "POST", f"/api/v1/runs/{rid}/heartbeat", {**lease, "details": {"progress": round(progress, 2)}}
            )
            if beat["cancel_requested"]:
                api.call("POST", f"/api/v1/runs/{rid}/fail", {**lease, "error": "Cancelled on request.",
                                                               "error_type": "Cancelled"})  # fmt: skip
                return "cancelled (acknowledged)"
        if args.fail:
            api.call("POST", f"/api/v1/runs/{rid}/fail", {**lease, "error": "Simulated failure.",
                                                           "error_type": "SimulatedFailure", "retryable": args.retryable})  # fmt: skip
            return "failed" + (" (retryable)" if args.retryable else "")
        output = po_decision(run["input"]) if run["work_unit_id"] == "PO_Approval" else {"echo": run["input"]}
        done = api.call("POST", f"/api/v1/runs/{rid}/complete", {**lease, "output": output})
        return done["status"]
    except Stale:
        return "dropped: the lease was taken away (409)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", default=os.environ.get("OCX_BASE_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--user", default="acme-member", help="demo user (password --password)")
    parser.add_argument("--password", default=os.environ.get("OCX_AGENT_PASSWORD", "ocx-demo"))
    parser.add_argument("--token", default=os.environ.get("OCX_TOKEN"), help="an API token instead of user/password")
    parser.add_argument("--tenant", help="X-Tenant, for a user of several tenants")
    parser.add_argument("--worker-id", default=f"agent-{socket.gethostname()}-{os.getpid()}")
    parser.add_argument("--topics", default="", help="comma-separated work units (default: any)")
    parser.add_argument("--max-runs", type=int, default=5)
    parser.add_argument("--lease-seconds", type=int, default=30)
    parser.add_argument("--wait-seconds", type=float, default=20, help="long poll of each claim (≤ 30)")
    parser.add_argument("--work-seconds", type=float, default=1.0, help="how long each run 'works'")
    parser.add_argument("--heartbeat-seconds", type=float, default=0.5)
    parser.add_argument("--fail", action="store_true", help="fail every run instead of completing it")
    parser.add_argument("--retryable", action="store_true", help="with --fail: ask for another attempt")
    parser.add_argument("--stall", action="store_true", help="claim and never report (let the lease expire)")
    parser.add_argument("--once", action="store_true", help="one claim, then exit")
    args = parser.parse_args(argv)

    api = Api(args.base, token=args.token, tenant=args.tenant)
    if not api.token:
        api.login(args.user, args.password)
    topics = [t.strip() for t in args.topics.split(",") if t.strip()]
    print(f"{args.worker_id}: claiming {', '.join(topics) or 'any work unit'} from {args.base}", flush=True)
    while True:
        body = {"worker_id": args.worker_id, "max_runs": args.max_runs, "lease_seconds": args.lease_seconds,
                "wait_seconds": args.wait_seconds, **({"topics": topics} if topics else {})}  # fmt: skip
        runs = api.call("POST", "/api/v1/runs/claim", body, timeout=args.wait_seconds + 30)["runs"]
        for run in runs:
            if args.stall:
                print(f"  {run['id']} {run['work_unit_id']} attempt {run['attempt']}: claimed, stalling", flush=True)
                continue
            outcome = execute(api, run, args)
            print(f"  {run['id']} {run['work_unit_id']} attempt {run['attempt']}: {outcome}", flush=True)
        if args.once:
            return 0 if runs else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
