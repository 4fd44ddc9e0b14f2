"""Console tables for summaries."""

from __future__ import annotations

from typing import Any

COLUMNS = (("precision", "precision"), ("hallucination_rate", "halluc."), ("supported", "supported"),
           ("f1_at_k", "F1@K"), ("factscore", "FActScore"), ("relevance", "relevance"), ("reward", "reward"))


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
    header = ["task", "scored/answers", "abst.", "claims/ans"] + [label for _, label in COLUMNS]
    rows = []
    items = list(summary["tasks"].items())
    if len(items) > 1:
        items.append(("OVERALL", summary["overall"]))
    for name, agg in items:
        m = agg["metrics"]
        abstained = agg["abstention_rate"]["mean"]
        row = [name, f"{agg.get('n_scored', agg['n_answers'])}/{agg['n_answers']}",
               f"{abstained * 100:.0f}%" if abstained is not None else "-",
               f"{agg['mean_claims_per_answer']:.1f}" if agg["mean_claims_per_answer"] is not None else "-"]
        row += [_fmt(m[key], pct=key not in ("supported", "reward")) for key, _ in COLUMNS]
        rows.append(row)
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(lines)


def _pct(part: int, whole: int, unit: str) -> str:
    return f"{part}/{whole} {unit} ({100 * part / whole:.1f}%)" if whole else f"0/0 {unit}"


def run_report(summary: dict[str, Any], run_dir: str) -> str:
    """The end-of-run report: how each answer was scored, judge parse errors per stage, retries
    and rate limits, answers cut at max tokens, calls, cost, and where the results are."""
    overall, errors = summary["overall"], summary["errors"]
    status = overall.get("answer_status", {})
    lines = [f"answers: {overall['n_answers']} of {overall['n_prompts']} prompts; {overall['n_scored']} with a reward, "
             f"{overall['n_unscored']} unscored ({status.get('judge_failed', 0)} judge failed, "
             f"{status.get('pending', 0)} pending); special: {status.get('empty', 0)} empty, "
             f"{status.get('think_only', 0)} think-only, {status.get('abstained', 0)} abstained, "
             f"{status.get('no_claims', 0)} without verifiable claims; "
             f"{errors.get('truncated_answers', 0)} cut at max tokens (finish_reason=length)"]
    parse = errors.get("parse", {})
    units = {"claims": "sentences", "verdicts": "claims", "relevance": "orders"}
    lines.append("judge parse errors (still without a parsed answer): " + ", ".join(
        f"{stage} {_pct(p['unparsed'], p['items'], units[stage])}" for stage, p in parse.items()))
    last = summary.get("last_invocation", {}).get("calls", summary.get("calls", {}))
    role_parts = []
    for role, st in last.items():
        extra = [f"{st.get('retries', 0)} retries", f"{st.get('errors', {}).get('rate_limit', 0)} rate-limited"]
        if st.get("rejected"):
            extra.append(f"{st['rejected']} unparsed, not cached")
        role_parts.append(f"{role} {st.get('calls', 0)} ({', '.join(extra)})")
    lines.append("calls this invocation: " + ("; ".join(role_parts) or "none"))
    cost = summary.get("cost_usd")
    tokens = sum(s.get("prompt_tokens", 0) + s.get("completion_tokens", 0) for s in summary.get("calls", {}).values())
    lines.append(f"run total over {summary.get('invocations', 1)} invocation(s): {tokens} tokens, "
                 f"cost {'unknown (no price for a role)' if cost is None else f'${cost:.4f}'}, "
                 f"wall {summary.get('wall_seconds', 0.0):.1f}s")
    cache = summary.get("last_invocation", {}).get("cache", summary.get("cache", {}))
    cache_line = f"cache hits: {cache.get('hits', 0)}/{cache.get('calls', 0)} calls"
    if any(summary.get("resumed", {}).values()):
        done = ", ".join(f"{stage} {n}" for stage, n in summary["resumed"].items())
        cache_line += f"; already done before this invocation: {done}"
    lines.append(f"{cache_line}; results in {run_dir}")
    return "\n".join(lines)
