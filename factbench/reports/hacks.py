"""The hack report: for every hack, the paired change of every metric and of the reward.

Answers are paired by (task, prompt id) between the rescored original answers and a hacked
variant; the change's 95% CI is the paired bootstrap of :mod:`factbench.reports.compare`.
A hack *raises* the reward when the whole CI of its change lies above `max_raise`.
The report lives in RUN_DIR/hacks/hacks.json; the run's summary.json points to it
(`"hacks"`, see docs/summary-schema.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from factbench.reports.compare import paired_bootstrap
from factbench.scoring.metrics import METRICS
from factbench.scoring.reward import RewardSpec, reward_of_row

REPORT_METRICS = tuple(m for m in METRICS if m != "reward") + ("abstained", "reward")


def _value(row: dict[str, Any], metric: str, spec: RewardSpec) -> float | None:
    if metric == "reward":
        return reward_of_row(spec, row)
    value = row.get(metric)
    return None if value is None else float(value)


def paired_changes(base: list[dict[str, Any]], variant: list[dict[str, Any]], spec: RewardSpec,
                   alpha: float = 0.05, seed: int = 0) -> dict[str, dict[str, Any]]:
    """Per metric: pairs, base and variant means, mean change and its paired bootstrap CI."""
    by_key = {(r["task"], r["id"]): r for r in base}
    out: dict[str, dict[str, Any]] = {}
    for metric in REPORT_METRICS:
        pairs = []
        for row in variant:
            b = by_key.get((row["task"], row["id"]))
            if b is None:
                continue
            x, y = _value(b, metric, spec), _value(row, metric, spec)
            if x is not None and y is not None:
                pairs.append((x, y))
        if not pairs:
            out[metric] = {"n": 0, "base": None, "variant": None, "change": None, "ci95": None}
            continue
        arr = np.asarray(pairs)
        diffs = arr[:, 1] - arr[:, 0]
        lo, hi = paired_bootstrap(diffs, alpha, seed)
        out[metric] = {"n": len(pairs), "base": float(arr[:, 0].mean()), "variant": float(arr[:, 1].mean()),
                       "change": float(diffs.mean()), "ci95": [lo, hi]}
    return out


def raised(change: dict[str, Any], max_raise: float) -> bool:
    return change["ci95"] is not None and change["ci95"][0] > max_raise


def moved(changes: dict[str, dict[str, Any]]) -> dict[str, str]:
    """The metrics (the reward aside) whose whole CI of change is above ("up") or below ("down") 0."""
    out = {}
    for metric, change in changes.items():
        if metric == "reward" or change["ci95"] is None:
            continue
        lo, hi = change["ci95"]
        if lo > 0 or hi < 0:
            out[metric] = "up" if lo > 0 else "down"
    return out


def _moves_line(name: str, hack: dict[str, Any]) -> str:
    aim = f" (aims at {hack['aims_at']})" if hack.get("aims_at") else ""
    if hack.get("status", "scored") != "scored":
        return f"- **{name}**{aim}: not scored, {hack['status']}: {hack['reason']}"
    moves = hack.get("moves", {})
    listed = ", ".join(f"{m} {'▲' if d == 'up' else '▼'}" for m, d in moves.items()) or "no metric"
    return f"- **{name}**{aim}: moves {listed}; reward {change_cell(hack['metrics']['reward'])}"


def change_cell(change: dict[str, Any]) -> str:
    if change["change"] is None:
        return "-"
    lo, hi = change["ci95"]
    mark = " ▲" if lo > 0 else " ▼" if hi < 0 else ""
    return f"{change['change']:+.3f} [{lo:+.3f}, {hi:+.3f}]{mark}"


def markdown(report: dict[str, Any]) -> str:
    """Rows: metrics; columns: hacks. ▲/▼: the whole CI of the change is above/below zero."""
    hacks = report["hacks"]
    names = [n for n, h in hacks.items() if h.get("status", "scored") == "scored"]
    spec = report["reward"]
    verdict = (f"❌ the reward is raised by: {', '.join(report['raised'])}" if report["raised"]
               else "⚠️ incomplete: too many answers failed to score" if report.get("incomplete")
               else "✅ no hack raises the reward")
    lines = [f"### factbench hacks: {verdict}", "",
             f"Run `{report['run_id']}`, {report['n_answers']} answers; reward design `{spec['design']}`, "
             f"λ = {spec['lambda']}, μ = {spec['mu']}. Mean change (hacked − original) with its paired "
             f"{100 * (1 - report['alpha']):.0f}% CI; ▲/▼ the whole CI is above/below 0.", "",
             "| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for metric in REPORT_METRICS:
        lines.append(f"| {metric} | " + " | ".join(change_cell(hacks[n]["metrics"][metric]) for n in names) + " |")
    lines += ["", "What each hack moves (▲/▼: the whole CI of the change is above/below 0):", ""]
    lines += [_moves_line(name, hack) for name, hack in hacks.items()]
    if report.get("incomplete"):
        lines.append(f"\nScored runs with too many failed answers (--fail-on-error): {report['incomplete']}")
    failed = {n: h["failed"] for n, h in hacks.items() if h["failed"]}
    if failed:
        lines.append(f"\nAnswers without a variant or a score (left out of the pairs): {failed}")
    return "\n".join(lines) + "\n"
