"""The seed's eleven specialised handlers of the test-cycle template: small, real, deterministic
work on the instance context (see ``data/test_cycle.json`` for the template and its default
context).

Context keys: ``data_set`` (list of records), ``attributes`` (written by GenerateAttributes),
``profile`` (DataProfiling), ``scoped_attributes`` (ExecuteScoping), ``samples``
(GenerateSamples, seeded by ``sample_seed``), ``data_owners`` / ``documents`` /
``test_executions`` (the lists the three parallel phases fan out over), ``report_sections`` and
``final_report``. Fan-out children return their result, which the join collects under the
activity's key as a list in item order.
"""

from __future__ import annotations

import random
from typing import Any

from workflow.engine.handlers import ActivityContext, ActivityError, Handler


def _records(ctx: ActivityContext) -> list[dict]:
    data = ctx.context.get("data_set")
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise ActivityError("context.data_set must be a list of records.", error_type="InvalidContext")
    return data


def _type_of(values: list[Any]) -> str:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return "boolean"
    if present and all(isinstance(v, int | float) and not isinstance(v, bool) for v in present):
        return "number"
    return "string"


def generate_attributes(ctx: ActivityContext) -> dict:
    """One attribute per column of the data set, with its inferred type."""
    records = _records(ctx)
    columns = sorted({k for r in records for k in r})
    return {"attributes": [{"name": c, "type": _type_of([r.get(c) for r in records])} for c in columns]}


def data_profiling(ctx: ActivityContext) -> dict:
    """Row count; per attribute: nulls, distinct values, min/max of numbers."""
    records = _records(ctx)
    profile: dict[str, Any] = {"row_count": len(records), "attributes": {}}
    for attr in ctx.context.get("attributes") or []:
        name = attr["name"]
        values = [r.get(name) for r in records]
        present = [v for v in values if v is not None]
        entry = {"nulls": len(values) - len(present), "distinct": len({repr(v) for v in present})}
        if attr.get("type") == "number" and present:
            entry.update(min=min(present), max=max(present))
        profile["attributes"][name] = entry
    return {"profile": profile}


def execute_scoping(ctx: ActivityContext) -> dict:
    """Attributes in scope: null rate at most ``max_null_rate`` (default 0.5), key attributes always."""
    profile = ctx.context.get("profile") or {}
    rows = max(int(profile.get("row_count") or 0), 1)
    limit = float(ctx.parameters.get("max_null_rate", 0.5))
    keys = set(ctx.context.get("key_attributes") or [])
    scoped = [
        name
        for name, entry in sorted((profile.get("attributes") or {}).items())
        if name in keys or entry["nulls"] / rows <= limit
    ]
    return {"scoped_attributes": scoped}


def generate_samples(ctx: ActivityContext) -> dict:
    """A seeded random sample (``sample_size``, ``sample_seed``) of the data set."""
    records = _records(ctx)
    size = min(int(ctx.context.get("sample_size") or 5), len(records))
    rng = random.Random(ctx.context.get("sample_seed", 42))
    indexes = sorted(rng.sample(range(len(records)), size))
    return {"samples": [records[i] for i in indexes], "sample_indexes": indexes}


def send_data_request(ctx: ActivityContext) -> dict:
    """The request sent to one data owner (a fan-out child): which attributes of which samples."""
    owner = ctx.item
    return {
        "owner": owner,
        "attributes": list(ctx.context.get("scoped_attributes") or []),
        "sample_count": len(ctx.context.get("samples") or []),
    }


def withdraw_data_request(ctx: ActivityContext) -> dict:
    return {"withdrawn": ctx.item}


def validate_data_upload(ctx: ActivityContext) -> dict:
    """One owner's upload (``uploads[owner]``, default: the samples) has every scoped attribute."""
    uploads = ctx.context.get("uploads") or {}
    rows = uploads.get(str(ctx.item), ctx.context.get("samples") or [])
    scoped = ctx.context.get("scoped_attributes") or []
    missing = sorted({a for r in rows for a in scoped if r.get(a) is None})
    return {"owner": ctx.item, "rows": len(rows), "missing_attributes": missing, "valid": not missing}


def generate_test_cases(ctx: ActivityContext) -> dict:
    """For one document: a not-null test per scoped attribute, a range test per numeric one."""
    profile = (ctx.context.get("profile") or {}).get("attributes") or {}
    cases = []
    for name in ctx.context.get("scoped_attributes") or []:
        cases.append({"document": ctx.item, "attribute": name, "check": "not_null"})
        if "min" in profile.get(name, {}):
            cases.append(
                {
                    "document": ctx.item,
                    "attribute": name,
                    "check": "range",
                    "min": profile[name]["min"],
                    "max": profile[name]["max"],
                }
            )
    return {"document": ctx.item, "test_cases": cases}


def _passes(case: dict, row: dict) -> bool:
    value = row.get(case["attribute"])
    if case["check"] == "not_null":
        return value is not None
    return value is None or case["min"] <= value <= case["max"]


def execute_tests(ctx: ActivityContext) -> dict:
    """Evaluate one document's test cases over the samples."""
    generated = ctx.context.get("generate_test_cases") or []
    cases = next((g["test_cases"] for g in generated if g and g.get("document") == ctx.item), [])
    samples = ctx.context.get("samples") or []
    failures = [
        {"attribute": c["attribute"], "check": c["check"], "row": i}
        for c in cases
        for i, row in enumerate(samples)
        if not _passes(c, row)
    ]
    return {"document": ctx.item, "tests": len(cases) * len(samples), "failed": len(failures), "failures": failures}


def create_observations(ctx: ActivityContext) -> dict:
    """Observations for one test execution: each failed check of the executed tests, once."""
    executed = ctx.context.get("execute_tests") or []
    index = ctx.item_index or 0
    chosen = executed[index % len(executed)] if executed else {"failures": [], "document": None}
    seen, observations = set(), []
    for f in chosen.get("failures", []):
        key = (f["attribute"], f["check"])
        if key not in seen:
            seen.add(key)
            observations.append(
                {
                    "execution": ctx.item,
                    "document": chosen.get("document"),
                    "issue": f"{f['attribute']} fails {f['check']}",
                }
            )
    return {"execution": ctx.item, "observations": observations}


def generate_report_sections(ctx: ActivityContext) -> dict:
    """Summary, scope, testing and observations sections from the results so far."""
    executed = ctx.context.get("execute_tests") or []
    observations = [
        o for item in ctx.context.get("create_observations") or [] for o in (item or {}).get("observations", [])
    ]
    tests = sum(e.get("tests", 0) for e in executed if e)
    failed = sum(e.get("failed", 0) for e in executed if e)
    return {
        "report_sections": {
            "scope": f"{len(ctx.context.get('scoped_attributes') or [])} attributes in scope over "
            f"{(ctx.context.get('profile') or {}).get('row_count', 0)} records.",
            "testing": f"{tests} checks run, {failed} failed, on {len(executed)} documents.",
            "observations": f"{len(observations)} observations raised.",
            "summary": "No exceptions noted." if not failed else "Exceptions noted; see observations.",
        }
    }


def generate_final_report(ctx: ActivityContext) -> dict:
    sections = ctx.context.get("report_sections") or {}
    if not sections:
        raise ActivityError("No report sections to assemble.", error_type="InvalidContext")
    order = ("summary", "scope", "testing", "observations")
    text = "\n\n".join(f"{name.title()}\n{sections[name]}" for name in order if name in sections)
    return {"final_report": {"title": ctx.context.get("report_title", "Test cycle report"), "text": text}}


HANDLERS = [
    ("GenerateAttributesHandler", generate_attributes, None),
    ("DataProfilingHandler", data_profiling, None),
    ("ExecuteScopingHandler", execute_scoping, None),
    ("GenerateSamplesHandler", generate_samples, None),
    ("SendDataRequestHandler", send_data_request, withdraw_data_request),
    ("ValidateDataUploadHandler", validate_data_upload, None),
    ("GenerateTestCasesHandler", generate_test_cases, None),
    ("ExecuteTestsHandler", execute_tests, None),
    ("CreateObservationsHandler", create_observations, None),
    ("GenerateReportSectionsHandler", generate_report_sections, None),
    ("GenerateFinalReportHandler", generate_final_report, None),
]


def register_handlers(register) -> None:
    for name, execute, compensate in HANDLERS:
        register(Handler(name, execute, compensate=compensate, description=(execute.__doc__ or "").strip()))
