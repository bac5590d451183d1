"""Workflow metrics (seed 003's names). Counters count in the process that increments them;
the gauges are read from the database at scrape time, so they are right in every mode."""

from __future__ import annotations

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily

TRANSITIONS = Counter("workflow_transition_total", "State transitions attempted", ["entity_type", "result"])
TRIGGER_EVALUATIONS = Counter(
    "automation_trigger_evaluations_total", "Automation trigger evaluations", ["trigger_id", "outcome"]
)
SLA_BREACHED = Counter("sla_records_breached_total", "SLA records marked breached")
WEBHOOKS = Counter("workflow_webhook_deliveries_total", "Outbound webhook delivery attempts", ["status"])


class WorkflowCollector:
    """``active_tasks_total{state}``, ``workflow_sla_records{status}`` and failed trigger
    executions, straight from the tables (every tenant)."""

    def describe(self):
        yield GaugeMetricFamily("active_tasks_total", "Open tasks by state", labels=["state"])
        yield GaugeMetricFamily("workflow_sla_records", "SLA records by status", labels=["status"])
        yield GaugeMetricFamily("workflow_sla_at_risk", "Open SLA records past their at-risk mark")
        yield GaugeMetricFamily("automation_trigger_failures", "Trigger executions that failed")

    def collect(self):
        from workflow import selectors

        figures = selectors.global_figures()
        tasks = GaugeMetricFamily("active_tasks_total", "Open tasks by state", labels=["state"])
        for state, count in figures["tasks_by_state"].items():
            tasks.add_metric([state], count)
        yield tasks
        sla = GaugeMetricFamily("workflow_sla_records", "SLA records by status", labels=["status"])
        for status, count in figures["sla_by_status"].items():
            sla.add_metric([status], count)
        yield sla
        yield GaugeMetricFamily(
            "workflow_sla_at_risk", "Open SLA records past their at-risk mark", value=figures["sla_at_risk"]
        )
        yield GaugeMetricFamily(
            "automation_trigger_failures", "Trigger executions that failed", value=figures["trigger_failures"]
        )
