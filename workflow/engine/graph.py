"""Server-side pictures of the engine for the admin: a template's dependency graph (SVG) and an
instance's progress (every phase, activity and fan-out branch with its state).

Drawn here rather than by a JavaScript library: a template is at most a few hundred boxes laid
out by phase (columns) and position (rows), which needs no layout engine; the output is plain
markup with classes (``static/ocx/engine.css``), so it needs no script and no inline style under
the Content-Security-Policy. Every text is escaped by ``format_html``.
"""

from __future__ import annotations

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

COL_W, BOX_W, BOX_H, ROW_H, TOP, LEFT = 210, 170, 26, 38, 56, 16


def _label(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def layout(template) -> tuple[dict[int, tuple[int, int]], list, list]:
    """(box position per activity template id, phases in order, activities in order)."""
    phases = list(template.phases.order_by("order", "id"))
    acts = list(template.activities.select_related("phase").order_by("phase__order", "position", "id"))
    column = {p.pk: i for i, p in enumerate(phases)}
    rows: dict[int, int] = {}
    where: dict[int, tuple[int, int]] = {}
    for a in acts:
        row = rows.get(a.phase_id, 0)
        rows[a.phase_id] = row + 1
        where[a.pk] = (LEFT + column[a.phase_id] * COL_W, TOP + row * ROW_H)
    return where, phases, acts


def edges(template, acts) -> list[tuple[int, int, bool]]:
    """(from, to, explicit) for every edge of the effective graph (``dependents``, computed at
    publish; a draft's explicit edges only)."""
    from workflow.engine.models import ActivityDependency

    explicit = set(
        ActivityDependency.objects.filter(activity__template=template).values_list("depends_on_id", "activity_id")
    )
    found = {(a.pk, d) for a in acts for d in (a.dependents or [])} | explicit
    return sorted((src, dst, (src, dst) in explicit) for src, dst in found)


def render_svg(template) -> SafeString:
    where, phases, acts = layout(template)
    if not acts:
        return mark_safe("<p>No activities.</p>")
    height = TOP + max(y for _x, y in where.values()) + BOX_H + 20
    width = LEFT + len(phases) * COL_W
    heads = format_html_join(
        "",
        '<text class="wf-phase" x="{}" y="18">{}. {}</text><text class="wf-mode" x="{}" y="34">{}{}</text>',
        (
            (
                LEFT + i * COL_W, p.order, _label(p.name, 26), LEFT + i * COL_W, p.execution_mode,
                f" over {p.fan_out_over}" + (f", ≤{p.max_concurrency}" if p.max_concurrency else "")
                if p.fan_out_over else "",
            )
            for i, p in enumerate(phases)
        ),
    )  # fmt: skip
    lines = []
    for src, dst, explicit in edges(template, acts):
        if src not in where or dst not in where:
            continue
        (x1, y1), (x2, y2) = where[src], where[dst]
        cls = "wf-edge explicit" if explicit else "wf-edge"
        if x1 == x2 and y2 - y1 == ROW_H:  # the next one in a sequential phase: straight down
            d = f"M{x1 + 14},{y1 + BOX_H} L{x2 + 14},{y2}"
        elif x1 == x2:  # further down the same phase: around the left side
            d = f"M{x1},{y1 + BOX_H / 2} C{x1 - 12},{y1 + BOX_H / 2} {x2 - 12},{y2 + BOX_H / 2} {x2},{y2 + BOX_H / 2}"
        else:
            sx, sy, tx, ty = x1 + BOX_W, y1 + BOX_H / 2, x2, y2 + BOX_H / 2
            mid = (sx + tx) / 2
            d = f"M{sx},{sy} C{mid},{sy} {mid},{ty} {tx},{ty}"
        lines.append((cls, d))
    paths = format_html_join("", '<path class="{}" d="{}" marker-end="url(#wf-arrow)"/>', lines)
    boxes = format_html_join(
        "",
        '<g class="{}"><title>{} — {} ({})</title><rect x="{}" y="{}" width="{}" height="{}" rx="4"/>'
        '<text x="{}" y="{}">{}</text></g>',
        (
            (
                "wf-box" + (" manual" if a.manual else "") + (" parallel" if a.fans_out else ""),
                a.key, a.name, a.handler_name, where[a.pk][0], where[a.pk][1], BOX_W, BOX_H,
                where[a.pk][0] + 6, where[a.pk][1] + 17, _label(a.key),
            )
            for a in acts
        ),
    )  # fmt: skip
    legend = format_html(
        '<p class="wf-legend"><span class="wf-key">automated</span> <span class="wf-key manual">manual</span> '
        '<span class="wf-key parallel">parallel (fan-out)</span> — dark arrows: explicit <code>depends_on</code>; '
        "light: sequential order and phase barriers. {} activities, {} edges.</p>",
        len(acts),
        len(lines),
    )
    defs = mark_safe(
        '<defs><marker id="wf-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="wf-arrowhead"/></marker></defs>'
    )
    return format_html(
        '<div class="wf-graph"><svg xmlns="http://www.w3.org/2000/svg" class="wf-svg" width="{}" height="{}" '
        'viewBox="0 0 {} {}" role="img" aria-label="dependency graph of {}">{}{}{}{}</svg>{}</div>',
        width, height, width, height, template.name, defs, heads, paths, boxes, legend,
    )  # fmt: skip


MAX_BRANCHES_SHOWN = 50


def render_progress(inst) -> SafeString:
    """A table per phase: each activity (and fan-out branch) with its state, attempts, error."""
    from workflow.engine.models import ActivityInstance

    rows = list(
        ActivityInstance.objects.for_tenant(inst.tenant_id)
        .filter(workflow=inst)
        .select_related("activity_template__phase")
        .order_by("activity_template__phase__order", "activity_template__position", "item_index", "id")
    )
    children: dict[int, list] = {}
    for r in rows:
        if r.parent_activity_id:
            children.setdefault(r.parent_activity_id, []).append(r)
    sections, current, body = [], None, []

    def flush():
        if current is not None:
            sections.append(
                format_html(
                    '<tr class="wf-phase-row"><th colspan="6">{}. {} ({})</th></tr>{}',
                    current.order,
                    current.name,
                    current.execution_mode,
                    mark_safe("".join(body)),
                )
            )

    for r in rows:
        if r.parent_activity_id:
            continue
        phase = r.activity_template.phase
        if current is None or phase.pk != current.pk:
            flush()
            current, body = phase, []
        body.append(_row(r, branch=False))
        kids = children.get(r.pk, [])
        for child in kids[:MAX_BRANCHES_SHOWN]:
            body.append(_row(child, branch=True))
        if len(kids) > MAX_BRANCHES_SHOWN:
            body.append(format_html('<tr><td colspan="6">… {} more branches</td></tr>', len(kids) - MAX_BRANCHES_SHOWN))
    flush()
    return format_html(
        '<table class="wf-progress"><thead><tr><th>activity</th><th>state</th><th>attempts</th><th>branches</th>'
        "<th>error / reason</th><th>task / run</th></tr></thead><tbody>{}</tbody></table>",
        mark_safe("".join(sections)),
    )


def _row(r, *, branch: bool) -> str:
    tpl = r.activity_template
    name = f"↳ {r.instance_id} {'' if r.item is None else _label(str(r.item), 40)}" if branch else r.instance_id
    kind = "manual" if tpl.manual else tpl.handler_name
    branches = f"{r.children_done}/{r.children_total}" if r.children_total else ""
    problem = f"{r.last_error_type}: {r.last_error[:160]}" if r.last_error_type else r.skip_reason
    link = f"task {r.task_id}" if r.task_id else (f"run {str(r.run_id)[:8]}" if r.run_id else "")
    return format_html(
        '<tr class="{}"><td title="{}">{} <span class="wf-handler">{}</span></td>'
        '<td><span class="wf-state {}">{}</span></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
        "wf-branch" if branch else "", tpl.name, name, kind, r.state, r.state, r.retry_count, branches, problem, link,
    )  # fmt: skip
