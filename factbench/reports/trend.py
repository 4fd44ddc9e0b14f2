"""Trend view: when runs form a series (checkpoint steps), the headline metric against step.

A run belongs to a series when it has a step: a `step` field in run.json (or its settings),
or a step in its label such as `--label "my-ckpt step 1200"`. The series is the label with
the step taken out (or the model name). Only comparable rows (one comparability group) are
joined by a line; a series needs at least two steps to be drawn.
"""

from __future__ import annotations

import html
import re

from factbench.reports.metric_format import BY_KEY, HEADLINE, fmt
from factbench.reports.ranking import Row
from factbench.reports.run_info import _STEP_IN_LABEL

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def series_name(row: Row) -> str:
    label = _STEP_IN_LABEL.sub("", row.run.label)
    label = re.sub(r"\s+", " ", label).strip(" -_,;:")
    return label or row.run.model


def series(rows: list[Row]) -> dict[str, list[Row]]:
    """Series with at least two steps, each sorted by step."""
    out: dict[str, list[Row]] = {}
    for row in rows:
        if row.run.step is not None and row.headline.get("mean") is not None:
            out.setdefault(f"{series_name(row)}\x1f{row.group}", []).append(row)
    return {k: sorted(v, key=step_of) for k, v in out.items() if len({r.run.step for r in v}) >= 2}


def step_of(row: Row) -> int:
    """The step of a row of a series (series() keeps only rows that have one)."""
    if row.run.step is None:
        raise ValueError(f"{row.run} has no step")
    return row.run.step


def trend_svg(task: str, rows: list[Row], width: int = 640, height: int = 320) -> str:
    lines = series(rows)
    if not lines:
        return ""
    pad, e = 52, html.escape
    scale = BY_KEY[HEADLINE].scale
    steps = [step_of(r) for v in lines.values() for r in v]
    lo_x, hi_x = min(steps), max(steps)
    sx = lambda s: pad + (s - lo_x) / max(1, hi_x - lo_x) * (width - 2 * pad)  # noqa: E731
    sy = lambda y: height - pad - y / 100 * (height - 2 * pad)  # noqa: E731
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="trend" data-task="{e(task)}" width="{width}" '
           f'height="{height + 16 * len(lines)}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height + 16 * len(lines)}" fill="white"/>',
           f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="black"/>',
           f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="black"/>',
           f'<text x="{width / 2}" y="{height - 14}" text-anchor="middle">step</text>',
           f'<text x="14" y="{height / 2}" text-anchor="middle" transform="rotate(-90 14 {height / 2})">{e(HEADLINE)} (%)</text>']
    for y in (0, 25, 50, 75, 100):
        out.append(f'<text x="{pad - 6}" y="{sy(y) + 4:.1f}" text-anchor="end">{y}</text>')
    for s in sorted(set(steps)):
        out.append(f'<text x="{sx(s):.1f}" y="{height - pad + 14}" text-anchor="middle">{s}</text>')
    for n, (key, members) in enumerate(sorted(lines.items())):
        colour = COLOURS[n % len(COLOURS)]
        pts = []
        for r in members:
            m = r.headline
            x, y = sx(step_of(r)), sy(m["mean"] * scale)
            pts.append(f"{x:.1f},{y:.1f}")
            ci = m.get("ci95") or [m["mean"], m["mean"]]
            out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{sy(ci[0] * scale):.1f}" y2="{sy(ci[1] * scale):.1f}" '
                       f'stroke="{colour}" stroke-opacity="0.5"/>')
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}"><title>{e(r.run.run_id)}: step '
                       f'{r.run.step}, {fmt(m["mean"], HEADLINE)}</title></circle>')
        out.append(f'<polyline points="{" ".join(pts)}" fill="none" stroke="{colour}"/>')
        out.append(f'<text class="series" x="{pad}" y="{height + 16 * n + 4}" fill="{colour}">■ '
                   f'{e(key.split(chr(31))[0][:80])}</text>')
    out.append("</svg>")
    return "\n".join(out)
