"""A drift report as one self-contained HTML file: inline CSS and SVG, no script, no link out."""

from __future__ import annotations

import math
from html import escape

from modelyard.monitoring.data_drift import ColumnDrift, Distribution, DriftReport

CHART_WIDTH = 560
CHART_HEIGHT = 150
REFERENCE_COLOR = "#7a869a"
CURRENT_COLOR = "#d9480f"

STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #1d2330; padding: 0 1rem; }
h1 { font-size: 1.5rem; margin: 0; } h2 { font-size: 1.1rem; margin-top: 2rem; }
.sub { color: #5b6475; margin: .2rem 0 1rem; }
.verdict { display: inline-block; padding: .3rem .7rem; border-radius: .3rem; font-weight: 600; }
.yes { background: #ffe3d6; color: #a3300b; } .no { background: #e2f5e6; color: #1e6b32; }
.muted { color: #6b7385; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #e4e7ee; vertical-align: top; }
th { font-weight: 600; background: #f5f6f9; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.drifted td:first-child { border-left: 4px solid #d9480f; }
details summary { cursor: pointer; } details { margin: .2rem 0; }
.legend span { display: inline-block; width: .8rem; height: .8rem; margin: 0 .3rem 0 .8rem; vertical-align: middle; }
.stats { font-size: 12px; color: #3d4555; margin: .3rem 0; }
svg text { font: 10px system-ui, sans-serif; fill: #3d4555; }
"""


def render(report: DriftReport, *, title: str, subtitle: str = "") -> str:
    """The whole report: verdict, schema findings, then every column, drifted ones first."""
    tested = sum(c.score is not None for c in report.columns)
    drifted = report.drifted_columns
    share = "n/a" if report.drifted_share is None else f"{report.drifted_share:.0%}"
    verdict = (
        f'<span class="verdict yes">Dataset drift: {len(drifted)} of {tested} columns ({share})</span>'
        if report.dataset_drift
        else f'<span class="verdict no">No dataset drift: {len(drifted)} of {tested} columns ({share})</span>'
    )
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="sub">{_e(subtitle)}</p>' if subtitle else "",
        f"<p>{verdict}</p>",
        f'<p class="muted">Reference: {_e(report.reference)}, {report.n_reference:,} rows. '
        f"Current: {report.n_current:,} rows. The dataset drifts when at least "
        f"{report.drift_share:.0%} of the tested columns do.</p>",
        _schema(report),
        "<h2>Columns</h2>",
        '<p class="legend">'
        f'<span style="background:{REFERENCE_COLOR}"></span>reference'
        f'<span style="background:{CURRENT_COLOR}"></span>current</p>',
        _columns(report),
        "</body></html>",
    ]
    return "\n".join(p for p in parts if p)


def _schema(report: DriftReport) -> str:
    if not report.schema and not report.skipped:
        return ""
    rows = [
        f"<tr><td>{_e(f.column)}</td><td>{_e(f.change.replace('_', ' '))}</td>"
        f"<td>{_e(f.reference_type or '-')}</td><td>{_e(f.current_type or '-')}</td></tr>"
        for f in report.schema
    ]
    skipped = "".join(
        f"<li>{_e(name)}: {_e(reason)}</li>" for name, reason in report.skipped.items()
    )
    return (
        "<h2>Schema</h2>"
        + (
            "<table><thead><tr><th>Column</th><th>Change</th><th>Reference type</th>"
            "<th>Current type</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
            if rows
            else ""
        )
        + (f"<p>Not tested:</p><ul>{skipped}</ul>" if skipped else "")
    )


def _columns(report: DriftReport) -> str:
    ordered = sorted(
        report.columns, key=lambda c: (not c.drifted, c.score is None)
    )  # stable: drifted, then tested, then untested; each in the table's order
    head = (
        "<table><thead><tr><th>Column</th><th>Kind</th><th>Test</th><th>Score</th>"
        "<th>Threshold</th><th>Drift</th><th>Missing (ref / cur)</th><th>Out of range</th>"
        "</tr></thead><tbody>"
    )
    return head + "".join(_column(c) for c in ordered) + "</tbody></table>"


def _column(c: ColumnDrift) -> str:
    status = "drift" if c.drifted else ("not tested" if c.score is None else "no drift")
    row = (
        f'<tr class="{"drifted" if c.drifted else ""}">'
        f"<td><details><summary>{_e(c.column)}</summary>{_detail(c)}</details></td>"
        f"<td>{_e(c.kind)}</td><td>{_e(c.method)}</td>"
        f'<td class="num">{_n(c.score)}</td><td class="num">{_n(c.threshold)}</td>'
        f"<td>{_e(status)}</td>"
        f'<td class="num">{_pct(c.missing_reference)} / {_pct(c.missing_current)}</td>'
        f'<td class="num">{_pct(c.out_of_range)}</td></tr>'
    )
    return row


def _detail(c: ColumnDrift) -> str:
    stats = ", ".join(f"{_e(k)} {_n(v)}" for k, v in c.statistics.items() if v is not None)
    note = f'<p class="stats">{_e(c.note)}</p>' if c.note else ""
    counts = f"{c.n_reference:,} reference and {c.n_current:,} current values"
    return f'<p class="stats">{stats}<br>{counts}</p>{note}{_chart(c.distribution)}'


def _chart(d: Distribution) -> str:
    """Reference and current shares side by side per cell, as inline SVG."""
    cells = len(d.reference)
    if not cells:
        return ""
    labels = _labels(d)
    ticks = labels if d.categories else [_g(e) for e in d.edges[:-1]]  # a bin by its start
    top = max(max(d.reference), max(d.current), 1e-12)
    left, bottom, height = 36, 40, CHART_HEIGHT - 50
    slot = (CHART_WIDTH - left) / cells
    bar = max(slot / 2 - 1, 1)
    shapes = []
    for i in range(cells):
        x = left + i * slot
        for j, (share, color) in enumerate(
            ((d.reference[i], REFERENCE_COLOR), (d.current[i], CURRENT_COLOR))
        ):
            h = height * share / top
            shapes.append(
                f'<rect x="{x + j * bar:.1f}" y="{CHART_HEIGHT - bottom - h:.1f}" '
                f'width="{bar:.1f}" height="{h:.1f}" fill="{color}">'
                f"<title>{_e(labels[i])}: {share:.2%}</title></rect>"
            )
        if cells <= 12 or i % max(cells // 8, 1) == 0:
            shapes.append(
                f'<text x="{x + slot / 2:.1f}" y="{CHART_HEIGHT - bottom + 12}" '
                f'text-anchor="end" transform="rotate(-30 {x + slot / 2:.1f} '
                f'{CHART_HEIGHT - bottom + 12})">{_e(_short(ticks[i]))}</text>'
            )
    axis = (
        f'<text x="{left - 4}" y="{CHART_HEIGHT - bottom - height + 4}" text-anchor="end">'
        f"{top:.0%}</text>"
        f'<line x1="{left}" y1="{CHART_HEIGHT - bottom}" x2="{CHART_WIDTH}" '
        f'y2="{CHART_HEIGHT - bottom}" stroke="#9aa3b5"/>'
    )
    return (
        f'<svg width="{CHART_WIDTH}" height="{CHART_HEIGHT}" role="img" '
        f'viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}">{axis}{"".join(shapes)}</svg>'
    )


def _labels(d: Distribution) -> list[str]:
    if d.categories:
        return [*d.categories, *(["(other)"] if d.other else [])]
    return [f"{_g(a)} to {_g(b)}" for a, b in zip(d.edges[:-1], d.edges[1:], strict=True)]


def _short(text: str) -> str:
    return text if len(text) <= 14 else text[:13] + "…"


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _g(value: float) -> str:
    return f"{value:.3g}"


def _n(value: float | None) -> str:
    if value is None or not math.isfinite(value):
        return "-"
    if value != 0 and abs(value) < 1e-3:
        return f"{value:.1e}"
    return f"{value:.3f}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"
