"""Console tables for summaries."""

from __future__ import annotations

from factbench.scoring.metrics import METRIC_INFO
from factbench.store.artefacts import Aggregate, MetricValue, RunSummary

COLUMNS = ("precision", "hallucination_rate", "supported", "f1_at_k", "factscore", "relevance")


def _fmt(metric: MetricValue | None, pct: bool) -> str:
    if metric is None or metric.mean is None:
        return "-"
    scale = 100 if pct else 1
    mean = metric.mean * scale
    if metric.ci95:
        return f"{mean:.1f} [{metric.ci95[0] * scale:.1f},{metric.ci95[1] * scale:.1f}]"
    return f"{mean:.1f}"


def summary_table(summary: RunSummary) -> str:
    header = ["task", "answers", "abst.", "claims/ans"] + [METRIC_INFO[key].label for key in COLUMNS]
    rows = []
    items: list[tuple[str, Aggregate]] = list(summary.tasks.items())
    if len(items) > 1:
        items.append(("OVERALL", summary.overall))
    for name, agg in items:
        abst = agg.abstention_rate
        row = [name, str(agg.n_answers), f"{abst.mean * 100:.0f}%" if agg.n_answers and abst and abst.mean is not None
               else "-", f"{agg.mean_claims_per_answer:.1f}" if agg.mean_claims_per_answer is not None else "-"]
        row += [_fmt(agg.metrics.get(key), pct=METRIC_INFO[key].percent) for key in COLUMNS]
        rows.append(row)
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)
