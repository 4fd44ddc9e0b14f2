"""Console tables for summaries."""

from __future__ import annotations

from typing import Any

COLUMNS = (("precision", "precision"), ("hallucination_rate", "halluc."), ("supported", "supported"),
           ("f1_at_k", "F1@K"), ("factscore", "FActScore"), ("relevance", "relevance"))


def _fmt(metric: dict[str, Any] | None, pct: bool) -> str:
    if not metric or metric.get("mean") is None:
        return "-"
    scale = 100 if pct else 1
    mean = metric["mean"] * scale
    ci = metric.get("ci95")
    if ci:
        return f"{mean:.1f} [{ci[0] * scale:.1f},{ci[1] * scale:.1f}]"
    return f"{mean:.1f}"


def summary_table(summary: dict[str, Any]) -> str:
    header = ["task", "answers", "abst.", "claims/ans"] + [label for _, label in COLUMNS]
    rows = []
    items = list(summary["tasks"].items())
    if len(items) > 1:
        items.append(("OVERALL", summary["overall"]))
    for name, agg in items:
        m = agg["metrics"]
        row = [name, str(agg["n_answers"]), f"{agg['abstention_rate']['mean'] * 100:.0f}%" if agg["n_answers"] else "-",
               f"{agg['mean_claims_per_answer']:.1f}" if agg["mean_claims_per_answer"] is not None else "-"]
        row += [_fmt(m[key], pct=key not in ("supported",)) for key, _ in COLUMNS]
        rows.append(row)
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)
