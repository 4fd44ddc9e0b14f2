"""Who is ranked against whom on the leaderboard, and how ties are decided.

Rules (also printed on the page and in docs/leaderboard.md):
- Rows are compared only within a comparability group: the same claim judges (models,
  parameters, templates, scoring settings; endpoints do not matter), and per task the same
  evidence and task version. `overall` additionally needs the same set of tasks (each with
  the same version and evidence).
- A row is shown but not ranked when it has fewer than MIN_SCORED scored answers, or when more
  than MAX_JUDGE_ERROR_RATE of its claims got no label from the judge.
- Demo-quality runs (label marked "demo-quality") are never ranked; they sit in their own section.
- Ties: rows are ordered by the headline metric's mean. A row whose 95% CI overlaps the CI of
  the first row of the rank group above it shares that rank; otherwise its rank is its
  position (competition ranking: 1, 1, 3).
"""

from __future__ import annotations

from dataclasses import dataclass

from factbench.hashing import sha256_hex
from factbench.reports.metric_format import HEADLINE
from factbench.reports.run_info import RunInfo, TaskResult

MIN_SCORED = 30
MAX_JUDGE_ERROR_RATE = 0.10
TIE_RULE = ("ranked by the headline metric's mean; a row whose 95% CI overlaps the CI of the first row "
            "of the rank group above it shares that rank (1, 1, 3, ...)")


@dataclass
class Row:
    run: RunInfo
    task: str
    result: TaskResult
    group: str  # short id of the comparability group
    group_label: str
    section: str  # "measured" or "demo"
    rank: int | None = None
    unranked_reason: str = ""

    @property
    def headline(self) -> dict:
        return self.result.metrics.get(HEADLINE) or {}


def _group(run: RunInfo, task: str) -> tuple[str, str]:
    if task == "overall":
        parts = sorted((t, r.version, r.evidence) for t, r in run.tasks.items() if t != "overall")
        key = {"judge": run.judge_identity, "tasks": parts}
        desc = "tasks " + ", ".join(f"{t} (version {v}, evidence {e})" for t, v, e in parts)
    else:
        r = run.tasks[task]
        key = {"judge": run.judge_identity, "task": task, "version": r.version, "evidence": r.evidence}
        desc = f"{task} version {r.version}, evidence {r.evidence}"
    return sha256_hex(key, 8), f"judge {run.judge}; {desc}"


def unranked_reason(row: Row) -> str:
    if row.section == "demo":
        return "demo-quality"
    r = row.result
    if row.headline.get("mean") is None:
        return "no scored answers"
    if r.n_scored < MIN_SCORED:
        return f"only {r.n_scored} scored answers (needs {MIN_SCORED})"
    if r.judge_error_rate > MAX_JUDGE_ERROR_RATE:
        return f"{r.judge_error_rate:.0%} of claims without a verdict (limit {MAX_JUDGE_ERROR_RATE:.0%})"
    return ""


def _overlap(a: dict, b: dict) -> bool:
    lo_a, hi_a = a.get("ci95") or [a["mean"], a["mean"]]
    lo_b, hi_b = b.get("ci95") or [b["mean"], b["mean"]]
    return lo_a <= hi_b and lo_b <= hi_a


def assign_ranks(rows: list[Row]) -> None:
    """Set rank/unranked_reason on rows of one task (any mix of groups)."""
    by_group: dict[str, list[Row]] = {}
    for row in rows:
        row.unranked_reason = unranked_reason(row)
        if not row.unranked_reason:
            by_group.setdefault(row.group, []).append(row)
    for members in by_group.values():
        members.sort(key=lambda r: -r.headline["mean"])
        leader: Row | None = None
        for pos, row in enumerate(members, start=1):
            if leader is not None and _overlap(leader.headline, row.headline):
                row.rank = leader.rank
            else:
                row.rank, leader = pos, row


def build_rows(runs: list[RunInfo]) -> dict[str, list[Row]]:
    """Rows per task ('overall' first), ranked, in display order: measured groups (ranked rows
    by rank, then unranked rows), then the demo section."""
    tasks = ["overall"] + sorted({t for run in runs for t in run.tasks if t != "overall"})
    out: dict[str, list[Row]] = {}
    for task in tasks:
        rows = []
        for run in runs:
            if task not in run.tasks or len(run.tasks) <= 1:
                continue
            group, label = _group(run, task)
            rows.append(Row(run, task, run.tasks[task], group, label, "demo" if run.demo else "measured"))
        assign_ranks(rows)
        group_order: dict[str, float] = {}
        for row in rows:  # groups ordered by their best row
            mean = row.headline.get("mean")
            best = -mean if mean is not None and row.rank is not None else float("inf")
            group_order[row.group] = min(group_order.get(row.group, float("inf")), best)
        rows.sort(key=lambda r: (r.section != "measured", group_order[r.group], r.group, r.rank is None,
                                 r.rank or 0, -(r.headline.get("mean") or -1.0), r.run.run_id))
        out[task] = rows
    return out
