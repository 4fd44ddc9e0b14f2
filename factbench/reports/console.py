"""Console tables for summaries."""

from __future__ import annotations

from factbench.scoring.metrics import METRIC_INFO
from factbench.store.artefacts import Aggregate, MetricValue, RunSummary

COLUMNS = ("precision", "hallucination_rate", "supported", "f1_at_k", "factscore", "relevance", "reward")


def _fmt(metric: MetricValue | None, pct: bool) -> str:
    if metric is None or metric.mean is None:
        return "-"
    scale = 100 if pct else 1
    mean = metric.mean * scale
    if metric.ci95:
        return f"{mean:.1f} [{metric.ci95[0] * scale:.1f},{metric.ci95[1] * scale:.1f}]"
    return f"{mean:.1f}"


def summary_table(summary: RunSummary) -> str:
    header = ["task", "answers", "scored", "abst.", "claims/ans"] + [METRIC_INFO[key].label for key in COLUMNS]
    rows = []
    items: list[tuple[str, Aggregate]] = list(summary.tasks.items())
    if len(items) > 1:
        items.append(("OVERALL", summary.overall))
    for name, agg in items:
        abst = agg.abstention_rate
        row = [name, str(agg.n_answers), str(agg.n_scored), f"{abst.mean * 100:.0f}%" if agg.n_answers and abst and abst.mean is not None
               else "-", f"{agg.mean_claims_per_answer:.1f}" if agg.mean_claims_per_answer is not None else "-"]
        row += [_fmt(agg.metrics.get(key), pct=METRIC_INFO[key].percent) for key in COLUMNS]
        rows.append(row)
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


def _pct(part: int, whole: int, unit: str) -> str:
    return f"{part}/{whole} {unit} ({100 * part / whole:.1f}%)" if whole else f"0/0 {unit}"


def run_report(summary: RunSummary, run_dir: str) -> str:
    """The end-of-run report: how each answer was scored, judge parse errors per stage, retries
    and rate limits, answers cut at max tokens, calls, cost, and where the results are."""
    overall, errors = summary.overall, summary.errors
    status = overall.answer_status
    lines = [f"answers: {overall.n_answers} of {overall.n_prompts} prompts; {overall.n_scored} with a reward, "
             f"{overall.n_unscored} unscored ({status.get('judge_failed', 0)} judge failed, "
             f"{status.get('pending', 0)} pending); special: {status.get('empty', 0)} empty, "
             f"{status.get('think_only', 0)} think-only, {status.get('abstained', 0)} abstained, "
             f"{status.get('no_claims', 0)} without verifiable claims; "
             f"{errors.truncated_answers} cut at max tokens (finish_reason=length)"]
    parse = errors.parse
    units = {"claims": "sentences", "verdicts": "claims", "relevance": "orders"}
    lines.append("judge parse errors (still without a parsed answer): " + ", ".join(
        f"{stage} {_pct(p['unparsed'], p['items'], units.get(stage, 'items'))}" for stage, p in parse.items()))
    last = summary.last_invocation.get("calls", summary.calls)
    role_parts = []
    for role, st in last.items():
        extra = [f"{st.get('retries', 0)} retries", f"{st.get('errors', {}).get('rate_limit', 0)} rate-limited"]
        if st.get("rejected"):
            extra.append(f"{st['rejected']} unparsed, not cached")
        role_parts.append(f"{role} {st.get('calls', 0)} ({', '.join(extra)})")
    lines.append("calls this invocation: " + ("; ".join(role_parts) or "none"))
    cost = summary.cost_usd
    tokens = sum(s.get("prompt_tokens", 0) + s.get("completion_tokens", 0) for s in summary.calls.values())
    lines.append(f"run total over {summary.invocations} invocation(s): {tokens} tokens, "
                 f"cost {'unknown (no price for a role)' if cost is None else f'${cost:.4f}'}, "
                 f"wall {summary.wall_seconds:.1f}s")
    cache = summary.last_invocation.get("cache", summary.cache)
    cache_line = f"cache hits: {cache.get('hits', 0)}/{cache.get('calls', 0)} calls"
    if any(summary.resumed.values()):
        done = ", ".join(f"{stage} {n}" for stage, n in summary.resumed.items())
        cache_line += f"; already done before this invocation: {done}"
    lines.append(f"{cache_line}; results in {run_dir}")
    return "\n".join(lines)
