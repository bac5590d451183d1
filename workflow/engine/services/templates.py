"""Template use cases: create/import from the one JSON form, validate, publish, new version, export.

The JSON form (create, import, export and ``manage.py load_workflow_template`` alike)::

    {"name", "description", "compensate_on_failure", "default_context",
     "phases": [{"key", "name", "order", "execution_mode", "fan_out_over", "max_concurrency",
                 "activities": [{"key", "name", "handler_name", "manual", "timeout_seconds",
                                 "total_timeout_seconds", "retry_policy": {…},
                                 "conditional_expression", "execution_mode",
                                 "compensation_handler", "parameters", "depends_on": [...]}]}]}
"""

from __future__ import annotations

from typing import Any

from django.db.models import Max
from django.utils import timezone

from activity_feed.services import publish
from ocx.core import errors
from ocx.core.fsm import fsm_transition
from ocx.core.locks import lock_get_or_404
from ocx.core.services import service
from workflow.automation.predicates import PredicateRejected, validate_predicate
from workflow.engine import handlers, planner
from workflow.engine.models import (
    ActivityDependency,
    ActivityTemplate,
    ExecutionMode,
    PhaseTemplate,
    TemplateStatus,
    WorkflowTemplate,
)

MODES = {m.value for m in ExecutionMode}
PHASE_KEYS = {"key", "name", "order", "execution_mode", "fan_out_over", "max_concurrency", "activities"}
ACTIVITY_KEYS = {
    "key", "name", "handler_name", "manual", "timeout_seconds", "total_timeout_seconds", "retry_policy",
    "conditional_expression", "execution_mode", "compensation_handler", "parameters", "depends_on",
}  # fmt: skip
TOP_KEYS = {"name", "description", "compensate_on_failure", "default_context", "phases", "version", "status"}


def error_path(*, activity: str | None = None, field_name: str = "") -> str:
    """Where in the JSON form an error is: ``activities.<key>.<field>``, a top-level field, or
    ``non_field_errors`` (the key of the envelope's ``details``)."""
    if activity:
        return f"activities.{activity}" + (f".{field_name}" if field_name else "")
    return field_name or "non_field_errors"


def _invalid(message: str, *, activity: str | None = None, field_name: str = "", **details) -> errors.ValidationError:
    # details in the envelope's field-errors shape: {"activities.b.handler_name": ["…"]}
    return errors.ValidationError(message, details={error_path(activity=activity, field_name=field_name): [message]})


def validate_definition(data: Any) -> dict:
    """The definition, normalised (defaults filled in), or VALIDATION_ERROR naming the activity."""
    if not isinstance(data, dict):
        raise _invalid("A template definition must be a JSON object.")
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise _invalid(f"Unknown template fields: {', '.join(sorted(unknown))}.")
    name = str(data.get("name") or "").strip()
    if not name:
        raise _invalid("A template needs a name.", field_name="name")
    phases_in = data.get("phases")
    if not isinstance(phases_in, list) or not phases_in:
        raise _invalid("A template needs at least one phase.", field_name="phases")
    phases, seen_phase, seen_activity, nodes = [], set(), set(), []
    for p in sorted(phases_in, key=lambda p: p.get("order", 0) if isinstance(p, dict) else 0):
        if not isinstance(p, dict) or set(p) - PHASE_KEYS:
            raise _invalid(
                f"Phase {p.get('key') if isinstance(p, dict) else p!r} has unknown fields.", field_name="phases"
            )
        key = str(p.get("key") or "")
        if not key or key in seen_phase:
            raise _invalid(f"Phase key {key!r} is missing or repeated.", field_name="phases")
        seen_phase.add(key)
        mode = p.get("execution_mode", "sequential")
        if mode not in MODES:
            raise _invalid(
                f"Phase '{key}': execution_mode must be sequential or parallel.", field_name="execution_mode"
            )
        fan = str(p.get("fan_out_over") or "")
        if mode == "parallel" and not fan:
            raise _invalid(f"Parallel phase '{key}' needs fan_out_over (a context key).", field_name="fan_out_over")
        conc = p.get("max_concurrency")
        if conc is not None and (isinstance(conc, bool) or not isinstance(conc, int) or conc < 1):
            raise _invalid(
                f"Phase '{key}': max_concurrency must be a positive whole number.", field_name="max_concurrency"
            )
        order = p.get("order", len(phases) + 1)
        acts = []
        for position, a in enumerate(p.get("activities") or []):
            if not isinstance(a, dict):
                raise _invalid(f"Phase '{key}': activities must be objects.")
            akey = str(a.get("key") or "")
            if not akey or akey in seen_activity:
                raise _invalid(
                    f"Activity key {akey!r} is missing or repeated.", activity=akey or None, field_name="key"
                )
            seen_activity.add(akey)
            extra = set(a) - ACTIVITY_KEYS
            if extra:
                raise _invalid(f"Activity '{akey}' has unknown fields: {', '.join(sorted(extra))}.", activity=akey)
            for text_field, limit in (
                ("key", 100),
                ("name", 200),
                ("handler_name", 100),
                ("compensation_handler", 100),
                ("execution_mode", 16),
                ("conditional_expression", 2000),
            ):
                value = a.get(text_field)
                if value is not None and (not isinstance(value, str) or len(value) > limit):
                    raise _invalid(
                        f"Activity '{akey[:100]}': {text_field} must be a string of at most {limit} characters.",
                        activity=akey[:100],
                        field_name=text_field,
                    )
            if not isinstance(a.get("parameters") or {}, dict):
                raise _invalid(
                    f"Activity '{akey}': parameters must be an object.", activity=akey, field_name="parameters"
                )
            manual = bool(a.get("manual", False))
            handler_name = a.get("handler_name") or ("ManualActivityHandler" if manual else "")
            if handlers.get(handler_name) is None:
                raise _invalid(
                    f"Activity '{akey}': unknown handler '{handler_name}'.",
                    activity=akey,
                    field_name="handler_name",
                    known=handlers.names(),
                )
            comp = a.get("compensation_handler") or ""
            if comp and handlers.get(comp) is None:
                raise _invalid(
                    f"Activity '{akey}': unknown compensation handler '{comp}'.",
                    activity=akey,
                    field_name="compensation_handler",
                )
            try:
                validate_predicate(a.get("conditional_expression") or "")
            except PredicateRejected as exc:
                raise _invalid(
                    f"Activity '{akey}': condition does not parse: {exc}",
                    activity=akey,
                    field_name="conditional_expression",
                ) from None
            try:
                policy = planner.check_retry_policy(a.get("retry_policy"))
            except ValueError as exc:
                raise _invalid(f"Activity '{akey}': {exc}", activity=akey, field_name="retry_policy") from None
            if manual:
                policy = {**policy, "maximum_attempts": 1}  # the seed: no automatic retries
            amode = a.get("execution_mode") or "sequential"
            if amode not in MODES or (amode == "parallel" and mode != "parallel"):
                raise _invalid(
                    f"Activity '{akey}': a parallel activity belongs in a parallel phase.",
                    activity=akey,
                    field_name="execution_mode",
                )
            timeout = a.get("timeout_seconds")
            if timeout is None:
                timeout = (
                    3600 * planner.manual_due_hours(a.get("name", ""), akey)
                    if manual
                    else planner.automated_timeout_seconds(handler_name, a.get("name", ""))
                )
            total = a.get("total_timeout_seconds")
            for fname, value in (("timeout_seconds", timeout), ("total_timeout_seconds", total)):
                if value is not None and (
                    isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 30 * 86400
                ):
                    raise _invalid(
                        f"Activity '{akey}': {fname} must be 1 s to 30 days.", activity=akey, field_name=fname
                    )
            deps = a.get("depends_on") or []
            if not isinstance(deps, list):
                raise _invalid(
                    f"Activity '{akey}': depends_on must be a list of keys.", activity=akey, field_name="depends_on"
                )
            acts.append({
                "key": akey, "name": str(a.get("name") or akey), "handler_name": handler_name, "manual": manual,
                "timeout_seconds": timeout, "total_timeout_seconds": total, "retry_policy": policy,
                "conditional_expression": a.get("conditional_expression") or "", "execution_mode": amode,
                "compensation_handler": comp, "parameters": a.get("parameters") or {}, "depends_on": [str(d) for d in deps],
            })  # fmt: skip
            nodes.append(Node(akey, order, mode, position, [str(d) for d in deps]))
        phases.append({"key": key, "name": str(p.get("name") or key), "order": order, "execution_mode": mode, "fan_out_over": fan, "max_concurrency": conc, "activities": acts})  # fmt: skip
    if not nodes:
        raise _invalid("A template needs at least one activity.", field_name="phases")
    try:
        planner.effective_graph(nodes)
    except planner.GraphError as exc:
        raise _invalid(str(exc), activity=exc.activity, field_name=exc.field_name) from None
    default_context = data.get("default_context") or {}
    if not isinstance(default_context, dict):
        raise _invalid("default_context must be an object.", field_name="default_context")
    return {
        "name": name,
        "description": str(data.get("description") or ""),
        "compensate_on_failure": bool(data.get("compensate_on_failure", False)),
        "default_context": default_context,
        "phases": phases,
    }


Node = planner.Node


def _write(template: WorkflowTemplate, definition: dict) -> None:
    by_key: dict[str, ActivityTemplate] = {}
    for p in definition["phases"]:
        phase = PhaseTemplate.objects.create(
            template=template, key=p["key"], name=p["name"], order=p["order"], execution_mode=p["execution_mode"],
            fan_out_over=p["fan_out_over"], max_concurrency=p["max_concurrency"],
        )  # fmt: skip
        for position, a in enumerate(p["activities"]):
            values = {k: v for k, v in a.items() if k != "depends_on"}
            by_key[a["key"]] = ActivityTemplate.objects.create(
                template=template, phase=phase, position=position, **values
            )
    ActivityDependency.objects.bulk_create(
        ActivityDependency(activity=by_key[a["key"]], depends_on=by_key[d])
        for p in definition["phases"]
        for a in p["activities"]
        for d in a["depends_on"]
    )
    # The effective graph, stored for proportional next-step decisions.
    nodes = [Node(a["key"], p["order"], p["execution_mode"], i, a["depends_on"]) for p in definition["phases"] for i, a in enumerate(p["activities"])]  # fmt: skip
    upstream = planner.effective_graph(nodes)
    dependents = planner.dependents_of(upstream)
    for key, act in by_key.items():
        act.upstream_count = len(upstream[key])
        act.dependents = [by_key[d].pk for d in dependents[key]]
    ActivityTemplate.objects.bulk_update(by_key.values(), ["upstream_count", "dependents"])


def _event(template: WorkflowTemplate, kind: str, actor) -> None:
    publish(
        tenant=template.tenant_id,
        type=f"workflow.template.{kind}",
        title=f"Workflow template {kind}: {template.name} v{template.version}",
        entity_type="workflow_template",
        entity_id=template.pk,
        payload={
            "template_id": template.pk,
            "name": template.name,
            "version": template.version,
            "status": template.status,
        },
        actor=actor,
    )


@service
def template_create(*, tenant, actor, definition: dict) -> WorkflowTemplate:
    """Create a draft template from the JSON form: version 1, or the next version of that name."""
    clean = validate_definition(definition)
    tenant_id = getattr(tenant, "pk", tenant)
    latest = WorkflowTemplate.objects.for_tenant(tenant_id).filter(name=clean["name"]).aggregate(v=Max("version"))["v"]
    template = WorkflowTemplate.objects.create(
        tenant_id=tenant_id, name=clean["name"], version=(latest or 0) + 1, description=clean["description"],
        compensate_on_failure=clean["compensate_on_failure"], default_context=clean["default_context"],
        created_by=actor if getattr(actor, "pk", None) else None,
    )  # fmt: skip
    _write(template, clean)
    _event(template, "created", actor)
    return template


@service
def template_publish(*, tenant, actor, template_id: int) -> WorkflowTemplate:
    """Publish a draft (validated again): from now on it is frozen, in the database too."""
    template = lock_get_or_404(WorkflowTemplate.objects.for_tenant(tenant), "Workflow template", pk=template_id)
    if template.status == TemplateStatus.DRAFT:
        validate_definition(template_export(template=template))
    fsm_transition(
        template, entity_type="WorkflowTemplate", actor=actor, target=TemplateStatus.PUBLISHED, lock=False,
        arguments={"at": timezone.now()}, update_fields=["published_at"],
        publish=lambda t, edge, source: _event(t, "published", actor),
    )  # fmt: skip
    return template


@service
def template_new_version(*, tenant, actor, template_id: int, definition: dict | None = None) -> WorkflowTemplate:
    """A draft copy of the template (or of ``definition``) as the next version of its name."""
    source = lock_get_or_404(WorkflowTemplate.objects.for_tenant(tenant), "Workflow template", pk=template_id)
    data = dict(definition) if definition else template_export(template=source)
    data["name"] = source.name
    return template_create(tenant=tenant, actor=actor, definition=data)


def template_export(*, template: WorkflowTemplate) -> dict:
    """The template in its JSON form (what create and import accept)."""
    phases = list(template.phases.order_by("order", "id"))
    acts = list(ActivityTemplate.objects.filter(template=template).order_by("position", "id"))
    deps: dict[int, list[str]] = {}
    for row in ActivityDependency.objects.filter(activity__template=template).select_related("depends_on"):
        deps.setdefault(row.activity_id, []).append(row.depends_on.key)
    return {
        "name": template.name,
        "version": template.version,
        "status": template.status,
        "description": template.description,
        "compensate_on_failure": template.compensate_on_failure,
        "default_context": template.default_context,
        "phases": [
            {
                "key": p.key,
                "name": p.name,
                "order": p.order,
                "execution_mode": p.execution_mode,
                "fan_out_over": p.fan_out_over,
                "max_concurrency": p.max_concurrency,
                "activities": [
                    {
                        "key": a.key,
                        "name": a.name,
                        "handler_name": a.handler_name,
                        "manual": a.manual,
                        "timeout_seconds": a.timeout_seconds,
                        "total_timeout_seconds": a.total_timeout_seconds,
                        "retry_policy": a.retry_policy,
                        "conditional_expression": a.conditional_expression,
                        "execution_mode": a.execution_mode,
                        "compensation_handler": a.compensation_handler,
                        "parameters": a.parameters,
                        "depends_on": sorted(deps.get(a.pk, [])),
                    }
                    for a in acts
                    if a.phase_id == p.pk
                ],
            }  # fmt: skip
            for p in phases
        ],
    }
