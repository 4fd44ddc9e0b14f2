"""pareto.svg: precision against detail, the Pareto front dashed, labels that never overlap.

Labels are placed greedily: each point's label tries eight spots around its point and takes
the first that overlaps no placed label, no point and stays inside the plot; a label with no
free spot goes to a list beside the plot, joined to its point by a thin line.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

CHAR_W, LINE_H = 6.2, 13.0  # 11px sans-serif: a generous width per character
Box = tuple[float, float, float, float]  # x0, y0, x1, y1


@dataclass
class Point:
    x: float  # supported claims per answer
    y: float  # precision, %
    name: str
    title: str
    demo: bool = False  # drawn hollow and grey, never on the front


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of points not dominated in (detail, precision), both maximised."""
    order = sorted(range(len(points)), key=lambda i: (-points[i][0], -points[i][1]))
    front, best = [], float("-inf")
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def _overlaps(a: Box, b: Box) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def place_labels(anchors: list[tuple[float, float]], widths: list[float], area: Box,
                 radius: float = 5.0) -> list[Box | None]:
    """A box per label beside its anchor, none overlapping another or any point; None = no room."""
    points = [(x - radius, y - radius, x + radius, y + radius) for x, y in anchors]
    placed: list[Box] = []
    out: list[Box | None] = []
    for (x, y), w in zip(anchors, widths):
        gap = radius + 3
        spots = [(x + gap, y - LINE_H / 2), (x - gap - w, y - LINE_H / 2), (x - w / 2, y - gap - LINE_H),
                 (x - w / 2, y + gap), (x + gap, y - gap - LINE_H), (x + gap, y + gap),
                 (x - gap - w, y - gap - LINE_H), (x - gap - w, y + gap)]
        chosen = None
        for sx, sy in spots:
            box = (sx, sy, sx + w, sy + LINE_H)
            inside = box[0] >= area[0] and box[1] >= area[1] and box[2] <= area[2] and box[3] <= area[3]
            if inside and not any(_overlaps(box, b) for b in placed + points):
                chosen = box
                break
        if chosen is not None:
            placed.append(chosen)
        out.append(chosen)
    return out


def pareto_svg(points: list[Point], task: str, width: int = 640, height: int = 380) -> str:
    pad, legend_w = 48, 190
    plot_r = width - legend_w
    max_x = max([p.x for p in points] + [1.0]) * 1.1
    sx = lambda x: pad + x / max_x * (plot_r - 2 * pad)  # noqa: E731
    sy = lambda y: height - pad - y / 100 * (height - 2 * pad)  # noqa: E731
    e = html.escape
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="pareto" data-task="{e(task)}" width="{width}" '
           f'height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<line x1="{pad}" y1="{height - pad}" x2="{plot_r - pad}" y2="{height - pad}" stroke="black"/>',
           f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{height - pad}" stroke="black"/>',
           f'<text x="{(plot_r) / 2}" y="{height - 12}" text-anchor="middle">supported claims per answer (detail)</text>',
           f'<text x="14" y="{height / 2}" text-anchor="middle" transform="rotate(-90 14 {height / 2})">precision (%)</text>']
    for y in (0, 25, 50, 75, 100):
        out.append(f'<text x="{pad - 6}" y="{sy(y) + 4:.1f}" text-anchor="end">{y}</text>')
    step = max(1, round(max_x / 5))
    for x in range(0, int(max_x) + 1, step):
        out.append(f'<text x="{sx(x):.1f}" y="{height - pad + 14}" text-anchor="middle">{x}</text>')
    measured = [i for i, p in enumerate(points) if not p.demo]
    front = {measured[j] for j in pareto_front([(points[i].x, points[i].y) for i in measured])}
    if len(front) > 1:
        line = " ".join(f"{sx(points[i].x):.1f},{sy(points[i].y):.1f}" for i in sorted(front, key=lambda i: points[i].x))
        out.append(f'<polyline class="frontier" points="{line}" fill="none" stroke="#d62728" stroke-dasharray="4 3"/>')
    anchors = [(sx(p.x), sy(p.y)) for p in points]
    names = [p.name[:36] + (" (demo)" if p.demo else "") for p in points]
    boxes = place_labels(anchors, [len(n) * CHAR_W for n in names], (pad + 1, 4, plot_r - 4, height - pad - 1))
    legend_y: float = pad
    for i, (p, (ax, ay), box) in enumerate(zip(points, anchors, boxes)):
        colour = "#d62728" if i in front else "#1f77b4"
        fill = 'fill="white" stroke="#999"' if p.demo else f'fill="{colour}"'
        out.append(f'<circle cx="{ax:.1f}" cy="{ay:.1f}" r="5" {fill}><title>{e(p.title)}</title></circle>')
        if box is None:  # no free spot beside the point: list it at the side
            box = (plot_r + 6, legend_y, plot_r + 6 + len(names[i]) * CHAR_W, legend_y + LINE_H)
            legend_y += LINE_H + 2
            out.append(f'<line x1="{ax:.1f}" y1="{ay:.1f}" x2="{box[0] - 2:.1f}" y2="{box[1] + LINE_H / 2:.1f}" '
                       f'stroke="#bbb" stroke-width="0.7"/>')
        out.append(f'<text class="point-label" x="{box[0]:.1f}" y="{box[3] - 3:.1f}">{e(names[i])}</text>')
    total_h = max(height, int(legend_y) + 4)  # a long side list makes the picture taller, never overlapping
    out[0] = out[0].replace(f'height="{height}" viewBox="0 0 {width} {height}"',
                            f'height="{total_h}" viewBox="0 0 {width} {total_h}"')
    out[1] = f'<rect width="{width}" height="{total_h}" fill="white"/>'
    out.append("</svg>")
    return "\n".join(out)
