"""The simulation's outputs for people: a summary for the terminal and a self-contained HTML report.

The report is one HTML file with inline SVG charts (nodes, pending pods and $/h over time, against the
all-on-demand baseline), no scripts, fonts or images fetched from anywhere, so it opens offline, can be attached
to an issue, and needs no plotting library.
"""

from __future__ import annotations

import html
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from luna_autoscaler.simulation.results import Comparison, RunResult, Sample

WIDTH, HEIGHT = 860, 260
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64, 16, 28, 36
COLOURS = {
    "on-demand": "#3b6fb6",
    "spot": "#5aa469",
    "launching": "#e0a030",
    "pending": "#d0453a",
    "running": "#8a8a8a",
    "baseline": "#3b6fb6",
    "run": "#5aa469",
    "static": "#7b5ea7",
}
DASHED, DOTTED = "8 4", "2 3"
HEADROOM = 1.1  # the highest value sits below the top edge (a flat line at the peak stays visible)


def duration(seconds: float | None) -> str:
    """`95` → `1m35s`; hours for long waits."""
    if seconds is None:
        return "-"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"


def _money(usd: float | None) -> str:
    return "-" if usd is None else f"${usd:,.2f}"


def _share(fraction: float | None) -> str:
    return "-" if fraction is None else f"{fraction * 100:.0f} %"


def _rows(comparison: Comparison) -> list[tuple[str, ...]]:
    """(figure, the run, all on-demand, static cluster) rows of the summary table."""
    run, od = comparison.run, comparison.on_demand
    static = comparison.static_cost_usd()

    def both(f: Callable[[RunResult], object]) -> tuple[str, str]:
        return str(f(run)), str(f(od)) if od is not None else "-"

    rows: list[tuple[str, ...]] = [
        ("pods served", *both(lambda r: f"{r.pods_served}/{r.pods_arrived}"), "-"),
        ("pods completed", *both(lambda r: r.pods_completed), "-"),
        ("time pending p50", *both(lambda r: duration(r.pending_percentile(50))), "-"),
        ("time pending p95", *both(lambda r: duration(r.pending_percentile(95))), "-"),
        ("node-hours spot", *both(lambda r: f"{r.node_hours('spot'):.1f}"), "-"),
        ("node-hours on-demand", *both(lambda r: f"{r.node_hours('on-demand'):.1f}"), "-"),
        ("GPU-hours", *both(lambda r: f"{r.gpu_hours():.1f}"), "-"),
        ("GPU-hours wasted by partial gangs", *both(lambda r: f"{r.partial_gang_gpu_hours:.1f}"), "-"),
        ("machines launched", *both(lambda r: sum(r.launches().values())), "-"),
        (
            "peak $/h",
            *both(lambda r: _money(r.peak_cost_usd_per_hour())),
            _money(od.peak_cost_usd_per_hour() if od else None),
        ),
        ("total cost", *both(lambda r: _money(r.cost_usd())), _money(static)),
        (
            "this run saves",
            "",
            _share(comparison.savings(od.cost_usd() if od else None)),
            _share(comparison.savings(static)),
        ),
        ("spot interruptions", *both(lambda r: r.interruptions), "-"),
        ("insufficient-capacity errors", *both(lambda r: r.insufficient_capacity_errors), "-"),
        ("pods disrupted", *both(lambda r: sum(r.pods_disrupted.values())), "-"),
        ("safety violations", *both(lambda r: len(r.violations)), "-"),
    ]
    if od is None:  # --no-baseline: nothing to compare with, so no empty columns
        return [(figure, value) for figure, value, _, _ in rows if figure != "this run saves"]
    return rows


def _header(comparison: Comparison) -> tuple[str, ...]:
    columns = ("", f"this run ({comparison.run.label})", "all on-demand", "static cluster")
    return columns if comparison.on_demand is not None else columns[:2]


REASONS_SHOWN = 5  # in the terminal summary; the report lists every reason


def unserved_reasons(run: RunResult) -> list[tuple[int, str]]:
    """Why trace pods never ran, grouped by the loop's own explanation, most pods first."""
    return sorted(((n, why) for why, n in run.never_served_why.items()), key=lambda t: (-t[0], t[1]))


def summary_text(comparison: Comparison, report_path: str | None, *, elapsed_seconds: float) -> str:
    run, od = comparison.run, comparison.on_demand
    runs = "" if od is None or od is run else " (and again all on-demand)"
    header = [
        f"Simulated {run.hours:g} h of cluster time{runs} in {elapsed_seconds:.1f} s: scenario {comparison.scenario} "
        f"(seed {comparison.seed})",
        f"Workload: {comparison.workload}",
        f"{comparison.cloud} {comparison.region}, prices: {comparison.catalog}",
    ]
    rows = [_header(comparison), *_rows(comparison)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    table = [
        "  " + "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in rows
    ]
    notes = (
        [
            "static cluster: a fixed cluster as large as the all-on-demand run's peak, at on-demand prices "
            "for the whole run."
        ]
        if od is not None
        else []
    )
    if run.violations:
        notes.append(f"SAFETY: {len(run.violations)} violations, first: {run.violations[0]}")
    if run.cycle_errors:
        notes.append(f"{run.cycle_errors} of {run.cycles} reconcile cycles failed, first: {run.first_cycle_error}")
    if run.pods_never_served:
        notes.append(f"{run.pods_never_served} pods never ran; why, from the loop's NotTriggerScaleUp Events:")
        reasons = unserved_reasons(run)
        notes += [f"  {count} x {why}" for count, why in reasons[:REASONS_SHOWN]]
        if len(reasons) > REASONS_SHOWN:
            notes.append(f"  ... {len(reasons) - REASONS_SHOWN} more reasons in the report")
    if report_path:
        notes.append(f"Report: {report_path}")
    return "\n".join([*header, "", *table, "", *notes])


# ---- SVG charts ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Series:
    name: str
    colour: str
    points: tuple[tuple[float, float], ...]  # (hours, value), a step function
    dash: str = ""  # SVG stroke-dasharray; lines on one chart get different ones so they tell apart in grey too


def _steps(samples: Sequence[Sample], value: Callable[[Sample], float]) -> tuple[tuple[float, float], ...]:
    """(hours, value) at each change of a step function (lossless: the points in between repeat)."""
    out: list[tuple[float, float]] = []
    last: float | None = None
    for i, s in enumerate(samples):
        v = float(value(s))
        if v != last or i == len(samples) - 1:
            out.append((s.at_seconds / 3600, v))
            last = v
    return tuple(out)


def _nice_step(top: float, ticks: int = 5) -> float:
    raw = top / ticks if top > 0 else 1.0
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1.0, 2.0, 2.5, 5.0, 10.0) if m * magnitude >= raw)


def _path(points: Sequence[tuple[float, float]], x: Callable[[float], float], y: Callable[[float], float]) -> str:
    parts: list[str] = []
    previous: float | None = None
    for hours, value in points:
        if previous is not None:
            parts.append(f"H{x(hours):.1f}")
            parts.append(f"V{y(value):.1f}")
        else:
            parts.append(f"M{x(hours):.1f},{y(value):.1f}")
        previous = value
    return "".join(parts)


def svg_chart(title: str, series: Sequence[Series], hours: float, unit: str, *, stacked: bool = False) -> str:
    """A step chart (stacked areas if `stacked`) over `hours` of simulated time."""
    if stacked:
        series = _stack(series)
    top = max((v for s in series for _, v in s.points), default=0.0) * HEADROOM
    step = _nice_step(top)
    y_max = max(step, math.ceil(top / step) * step)
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def x(h: float) -> float:
        return MARGIN_LEFT + plot_w * h / hours

    def y(v: float) -> float:
        return MARGIN_TOP + plot_h * (1 - v / y_max)

    grid = 'stroke="#e4e4e4"'
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{html.escape(title)}" class="chart" font-family="sans-serif" font-size="11" fill="#333">',
        f'<text x="{MARGIN_LEFT}" y="16" font-size="13" font-weight="600">{html.escape(title)}</text>',
        f'<text x="{WIDTH - MARGIN_RIGHT}" y="16" text-anchor="end">{html.escape(unit)}</text>',
    ]
    for i in range(round(y_max / step) + 1):
        v = i * step
        label = f"${v:g}" if unit == "$/h" else f"{v:g}"
        out.append(f'<line x1="{MARGIN_LEFT}" x2="{WIDTH - MARGIN_RIGHT}" y1="{y(v):.1f}" y2="{y(v):.1f}" {grid}/>')
        out.append(f'<text x="{MARGIN_LEFT - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{label}</text>')
    for h in range(0, math.floor(hours) + 1, max(1, math.ceil(hours / 12))):
        out.append(f'<line x1="{x(h):.1f}" x2="{x(h):.1f}" y1="{MARGIN_TOP}" y2="{HEIGHT - MARGIN_BOTTOM}" {grid}/>')
        out.append(f'<text x="{x(h):.1f}" y="{HEIGHT - MARGIN_BOTTOM + 16}" text-anchor="middle">{h} h</text>')
    for s in reversed(series) if stacked else series:
        path = _path(s.points, x, y)
        if stacked and s.points:
            area = f"{path}V{y(0):.1f}H{x(s.points[0][0]):.1f}Z"
            out.append(
                f'<path d="{area}" fill="{s.colour}" fill-opacity="0.85" stroke="none">'
                f"<title>{html.escape(s.name)}</title></path>"
            )
        else:
            dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
            out.append(
                f'<path d="{path}" fill="none" stroke="{s.colour}" stroke-width="1.6"{dash}>'
                f"<title>{html.escape(s.name)}</title></path>"
            )
    legend_x = MARGIN_LEFT
    for s in series:
        if stacked:
            out.append(f'<rect x="{legend_x}" y="{HEIGHT - 14}" width="10" height="10" fill="{s.colour}"/>')
            text_x = legend_x + 14
        else:  # a sample of the line itself, dashes included
            dash = f' stroke-dasharray="{s.dash}"' if s.dash else ""
            out.append(
                f'<line x1="{legend_x}" x2="{legend_x + 22}" y1="{HEIGHT - 9}" y2="{HEIGHT - 9}" '
                f'stroke="{s.colour}" stroke-width="2"{dash}/>'
            )
            text_x = legend_x + 26
        out.append(f'<text x="{text_x}" y="{HEIGHT - 5}">{html.escape(s.name)}</text>')
        legend_x = text_x + 10 + 7 * len(s.name)
    out.append("</svg>")
    return "\n".join(out)


def _stack(series: Sequence[Series]) -> list[Series]:
    """Cumulative sums, bottom series first, on the union of the series' change points."""
    times = sorted({h for s in series for h, _ in s.points})
    stacked: list[Series] = []
    below = dict.fromkeys(times, 0.0)
    for s in series:
        values = _sample_steps(s.points, times)
        total = {t: below[t] + v for t, v in zip(times, values, strict=True)}
        stacked.append(Series(s.name, s.colour, tuple((t, total[t]) for t in times), s.dash))
        below = total
    return stacked


def _sample_steps(points: Sequence[tuple[float, float]], times: Sequence[float]) -> list[float]:
    out, i, current = [], 0, 0.0
    for t in times:
        while i < len(points) and points[i][0] <= t:
            current = points[i][1]
            i += 1
        out.append(current)
    return out


def charts(comparison: Comparison) -> list[str]:
    run, od = comparison.run, comparison.on_demand
    node_series = [
        Series("on-demand", COLOURS["on-demand"], _steps(run.samples, lambda s: s.nodes_on_demand)),
        Series("spot", COLOURS["spot"], _steps(run.samples, lambda s: s.nodes_spot)),
        Series("launching", COLOURS["launching"], _steps(run.samples, lambda s: s.launching)),
    ]
    nodes = svg_chart(
        f"Nodes the autoscaler owns ({run.label})",
        [s for s in node_series if any(v for _, v in s.points)],  # no legend entry for a kind never bought
        run.hours,
        "nodes",
        stacked=True,
    )
    pods = svg_chart(
        "Pods",
        [
            Series("pending", COLOURS["pending"], _steps(run.samples, lambda s: s.pending_pods)),
            Series("running", COLOURS["running"], _steps(run.samples, lambda s: s.running_pods)),
        ],
        run.hours,
        "pods",
    )
    cost_series = [
        Series(f"this run ({run.label})", COLOURS["run"], _steps(run.samples, lambda s: s.cost_usd_per_hour))
    ]
    if od is not None:
        cost_series.append(
            Series("all on-demand", COLOURS["baseline"], _steps(od.samples, lambda s: s.cost_usd_per_hour), dash=DASHED)
        )
        peak = od.peak_cost_usd_per_hour()
        cost_series.append(Series("static cluster", COLOURS["static"], ((0.0, peak), (od.hours, peak)), dash=DOTTED))
    cost = svg_chart("Cluster cost per hour", cost_series, run.hours, "$/h")
    return [nodes, pods, cost]


# ---- HTML ------------------------------------------------------------------------------------------------

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:900px;color:#222}
h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:3px 10px;border-bottom:1px solid #ddd;text-align:right}
td:first-child,th:first-child{text-align:left}.note{color:#555;font-size:.9em}
.chart{width:100%;height:auto;margin:.6em 0}.bad{color:#b00020}
"""


def _table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _machines(run: RunResult) -> str:
    by_kind: Counter[tuple[str, str]] = Counter()
    hours: dict[tuple[str, str], float] = {}
    cost: dict[tuple[str, str], float] = {}
    for m in run.machines:
        key = (m.offering.name, m.offering.capacity_type.value)
        by_kind[key] += 1
        hours[key] = hours.get(key, 0.0) + m.hours(run.ended_at)
        cost[key] = cost.get(key, 0.0) + m.cost_usd(run.ended_at)
    rows = [
        (name, ct, by_kind[(name, ct)], f"{hours[(name, ct)]:.1f}", _money(cost[(name, ct)]))
        for name, ct in sorted(by_kind, key=lambda k: -cost[k])
    ]
    return _table(("instance type", "capacity", "launched", "node-hours", "cost"), rows)


def html_report(comparison: Comparison) -> str:
    run, od = comparison.run, comparison.on_demand
    summary = _table(_header(comparison), _rows(comparison))
    reasons = unserved_reasons(run)
    problems = [f"<li>{html.escape(v)}</li>" for v in run.violations[:50]]
    errors = sorted(run.launch_errors.items(), key=lambda kv: -kv[1])
    events = sorted(run.events.items(), key=lambda kv: -kv[1])
    sections = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>luna-autoscaler simulation: {html.escape(comparison.scenario)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>luna-autoscaler simulation: {html.escape(comparison.scenario)}</h1>",
        f"<p>{html.escape(comparison.description)}</p>",
        f"<p>Workload: {html.escape(comparison.workload)}.</p>",
        f'<p class="note">{run.hours:g} h of cluster time on {html.escape(comparison.cloud)} '
        f"{html.escape(comparison.region)}, seed {comparison.seed}, prices: {html.escape(comparison.catalog)}. "
        f"The reconcile loop ran {run.cycles} cycles; simulated in {run.wall_seconds:.1f} s"
        + (f" (+{od.wall_seconds:.1f} s for the on-demand baseline)" if od else "")
        + ".</p>",
        "<h2>Summary</h2>",
        summary,
        "<p class=\"note\">Time pending: from a pod's creation (or its replacement's, after a disruption) to its "
        "binding. All on-demand: the same loop and workload with <code>defaultOfferings: on-demand</code>. "
        "Static cluster: a fixed cluster as large as the all-on-demand run's peak, at on-demand prices for the "
        "whole run. Costs include the static system nodes the autoscaler does not own.</p>",
        "<h2>Over time</h2>",
        *charts(comparison),
        "<h2>Pods that never ran</h2>",
        (
            f"<p>{run.pods_never_served} of {run.pods_arrived} pods never ran. Why, grouped by the loop's last "
            "NotTriggerScaleUp Event on each:</p>" + _table(("pods", "reason"), reasons)
            if run.pods_never_served
            else "<p>Every pod ran.</p>"
        ),
        "<h2>Machines launched</h2>",
        _machines(run),
        "<h2>Launch errors and Events</h2>",
        (
            f'<p class="bad">{run.cycle_errors} of {run.cycles} reconcile cycles failed; the first: '
            f"{html.escape(run.first_cycle_error)}</p>"
            if run.cycle_errors
            else ""
        ),
        _table(("launch error", "count"), errors) if errors else "<p>No launch errors.</p>",
        _table(("Event reason", "count"), events) if events else "<p>No Events.</p>",
        "<h2>Safety</h2>",
        (
            f'<ul class="bad">{"".join(problems)}</ul>'
            if problems
            else "<p>No safety violations: the loop never "
            "touched a node it does not own and never evicted a pod that must not be evicted.</p>"
        ),
        "</body></html>",
    ]
    return "\n".join(sections) + "\n"


def write_report(comparison: Comparison, path: str | Path) -> Path:
    target = Path(path)
    target.write_text(html_report(comparison), encoding="utf-8")
    return target
