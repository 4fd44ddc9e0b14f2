"""Regression gate: a candidate run against a baseline run, paired by prompt.

For each task and overall, answers present in both runs are paired by (task, prompt id);
the paired bootstrap CI of the mean difference (candidate - baseline) is computed. A
regression fails the gate only when the whole CI lies below -max_drop (the drop is real and
larger than allowed). Exit codes: 0 pass, 1 regression, 2 usage error, 3 incomparable.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from factbench.reports.diff import PromptDiff
from factbench.reports.run_info import judge_identity
from factbench.scoring.metrics import METRIC_INFO, bootstrap_ci
from factbench.store.run_dir import RunStore

EXIT_PASS, EXIT_REGRESSION, EXIT_USAGE, EXIT_INCOMPARABLE = 0, 1, 2, 3
HIGHER_IS_BETTER = {m.name: m.higher_is_better for m in METRIC_INFO.values() if m.name != "claims"}
PERCENT_METRICS = {m.name for m in METRIC_INFO.values() if m.percent}


class CompareError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class Delta:
    scope: str
    n_pairs: int
    base: float
    candidate: float
    diff: float
    ci: tuple[float, float]
    regression: bool


def _load(run_dir: str | Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    if not Path(run_dir).is_dir():
        raise CompareError(EXIT_USAGE, f"{run_dir}: no such directory")
    store = RunStore(run_dir)
    spec = store.read_json("run.json")
    scores = store.read_scores()
    if spec is None or not scores:
        raise CompareError(EXIT_USAGE, f"{run_dir}: not a finished run (needs run.json and scores.jsonl)")
    return spec, scores


def check_comparable(base: dict[str, Any], cand: dict[str, Any]) -> list[str]:
    from factbench.pipeline.identity import diff  # endpoints are provenance, not identity

    problems = []
    judged = diff(judge_identity(base), judge_identity(cand))
    if judged:
        problems.append("the runs were judged differently (judge models, revisions, parameters, templates or "
                        "scoring settings differ: " + "; ".join(judged[:5]) + "); re-score one with the other's judge")
    for name in set(base.get("tasks", {})) & set(cand.get("tasks", {})):
        b, c = base["tasks"][name], cand["tasks"][name]
        for field in ("version", "template_sha", "k", "evidence"):
            if b.get(field) != c.get(field):
                problems.append(f"task {name}: {field} differs ({b.get(field)!r} vs {c.get(field)!r})")
    return problems


def paired_bootstrap(diffs: np.ndarray, alpha: float, seed: int, samples: int = 2000) -> tuple[float, float]:
    """CI of the mean paired difference: the same seeded bootstrap as every other CI."""
    ci = bootstrap_ci(diffs, seed, samples=samples, level=1 - alpha)
    assert ci is not None  # callers pair at least two answers
    return ci


def compare(base_dir: str | Path, cand_dir: str | Path, metric: str = "precision", max_drop: float = 1.0,
            alpha: float = 0.05, min_pairs: int = 10, seed: int = 0) -> tuple[list[Delta], dict[str, Any]]:
    if metric not in HIGHER_IS_BETTER:
        raise CompareError(EXIT_USAGE, f"unknown metric {metric!r} (one of {', '.join(HIGHER_IS_BETTER)})")
    if not 0 < alpha < 1:
        raise CompareError(EXIT_USAGE, "--alpha must be between 0 and 1")
    base_spec, base_scores = _load(base_dir)
    cand_spec, cand_scores = _load(cand_dir)
    problems = check_comparable(base_spec, cand_spec)
    if problems:
        raise CompareError(EXIT_INCOMPARABLE, "runs are not comparable:\n  " + "\n  ".join(problems))
    scale = 100.0 if metric in PERCENT_METRICS else 1.0
    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0
    base = {(s["task"], s["id"]): s.get(metric) for s in base_scores}
    pairs: dict[str, list[tuple[float, float]]] = {}
    for s in cand_scores:
        b, c = base.get((s["task"], s["id"])), s.get(metric)
        if b is not None and c is not None:
            pairs.setdefault(s["task"], []).append((b * scale, c * scale))
    scopes = {task: p for task, p in sorted(pairs.items())}
    scopes["overall"] = [x for p in pairs.values() for x in p]
    if len(scopes["overall"]) < min_pairs:
        raise CompareError(EXIT_INCOMPARABLE, f"only {len(scopes['overall'])} prompts are scored in both runs "
                                              f"(need at least {min_pairs})")
    deltas = []
    for scope, p in scopes.items():
        if len(p) < 2:
            continue
        arr = np.asarray(p)
        diffs = (arr[:, 1] - arr[:, 0]) * sign  # positive = candidate better
        lo, hi = paired_bootstrap(diffs, alpha, seed)
        deltas.append(Delta(scope, len(p), float(arr[:, 0].mean()), float(arr[:, 1].mean()),
                            float(diffs.mean()), (lo, hi), regression=hi < -max_drop))
    meta = {"metric": metric, "max_drop": max_drop, "alpha": alpha, "base": str(base_dir), "candidate": str(cand_dir),
            "base_model": base_spec.get("roles", {}).get("model", {}).get("model") or base_spec.get("identity", {}).get("answers"),
            "candidate_model": cand_spec.get("roles", {}).get("model", {}).get("model") or cand_spec.get("identity", {}).get("answers")}
    return deltas, meta


def gate(deltas: list[Delta], per_task: bool) -> bool:
    """True when the candidate regresses: overall, or in any task with `per_task`."""
    return any(d.regression for d in deltas if per_task or d.scope == "overall")


def unit_of(metric: str) -> str:
    return "pp" if metric in PERCENT_METRICS else ""


def markdown_report(deltas: list[Delta], meta: dict[str, Any], failed: bool,
                    regressions: list[PromptDiff] | None = None, top: int = 10) -> str:
    unit = unit_of(meta["metric"])
    verdict = "❌ regression" if failed else "✅ no significant regression"
    lines = [f"### factbench: {verdict}", "",
             f"`{meta['metric']}` of **{meta['candidate_model']}** against **{meta['base_model']}**, paired by prompt; "
             f"fails when the whole {100 * (1 - meta['alpha']):.0f}% CI of the change is below −{meta['max_drop']}{unit}.",
             "", "| scope | pairs | baseline | candidate | change | CI | |", "|---|---|---|---|---|---|---|"]
    for d in deltas:
        mark = "regression" if d.regression else ""
        lines.append(f"| {d.scope} | {d.n_pairs} | {d.base:.2f} | {d.candidate:.2f} | {d.diff:+.2f}{unit} | "
                     f"[{d.ci[0]:+.2f}, {d.ci[1]:+.2f}] | {mark} |")
    if meta["metric"] == "hallucination_rate":
        lines.append("\n(change is shown as improvement: positive = fewer hallucinations)")
    worst = [r for r in regressions or [] if r.change < 0][:top]
    if worst:
        esc = lambda s: str(s).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")  # noqa: E731
        lines += ["", f"#### Biggest regressions ({len(worst)} of {sum(1 for r in regressions or [] if r.change < 0)} "
                      "prompts that got worse)", "",
                  "| task | id | baseline | candidate | change | flipped claims |", "|---|---|---|---|---|---|"]
        for r in worst:
            flips = "; ".join(f"{esc(c[:80])} ({b} → {a})" for c, b, a in r.flipped[:3])
            if len(r.flipped) > 3:
                flips += f"; … {len(r.flipped) - 3} more"
            lines.append(f"| {esc(r.task)} | {esc(r.id)} | {r.base:.1f} | {r.candidate:.1f} | {r.change:+.1f}{unit} | {flips} |")
    return "\n".join(lines) + "\n"
