"""The leaderboard as text: leaderboard.md and leaderboard.csv (one row per run and task)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from factbench import __version__
from factbench.reports.metric_format import HEADLINE, SHOWN_METRICS, fmt_ci, reward_formulas, shown_triplet
from factbench.reports.ranking import MAX_JUDGE_ERROR_RATE, MIN_SCORED, TIE_RULE, Row

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?\d+(\.\d+)?")


def spreadsheet_safe(value: object) -> object:
    """A text cell that a spreadsheet would run as a formula gets a leading apostrophe
    (plain numbers such as -1.5 are left as they are)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def csv_header() -> list[str]:
    header = ["run_id", "model", "label", "task", "section", "group", "rank", "unranked_reason",
              "n_scored", "n_answers", "judge_error_rate"]
    for m in SHOWN_METRICS:
        header += [m.key, f"{m.key}_ci_low", f"{m.key}_ci_high"]
    return header + ["judge", "judge_hosting", "evidence", "task_version", "step", "date", "factbench_version"]


def write_csv(rows_by_task: dict[str, list[Row]], path: Path) -> None:
    """Rates in percent and counts as shown on the page (same rounding)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(csv_header())
        for task, rows in rows_by_task.items():
            for row in rows:
                r, run = row.result, row.run
                values = []
                for m in SHOWN_METRICS:
                    values += list(shown_triplet(r.metrics.get(m.key), m.key))
                cells = [run.run_id, run.model, run.label, task, row.section, row.group,
                         "" if row.rank is None else row.rank, row.unranked_reason, r.n_scored, r.n_answers,
                         f"{100 * r.judge_error_rate:.1f}", *values, run.judge, run.judge_hosting, r.evidence,
                         r.version, "" if run.step is None else run.step, run.date, run.factbench_version]
                w.writerow([spreadsheet_safe(c) for c in cells])


def _md(value: object) -> str:
    return (str(value).replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\n", " ").replace("`", "\\`").replace("*", "\\*").replace("_", "\\_").replace("[", "\\["))


def markdown(rows_by_task: dict[str, list[Row]]) -> str:
    cols = list(SHOWN_METRICS)
    lines = [f"# factbench leaderboard\n\nBuilt by factbench {__version__}. Ranked by **{HEADLINE}** "
             f"(mean [95% CI]; rates in %). Rank rule: {TIE_RULE}. Unranked (shown, marked): fewer than "
             f"{MIN_SCORED} scored answers, or more than {MAX_JUDGE_ERROR_RATE:.0%} of claims without a verdict. "
             f"Rows are ranked only against rows of the same group (same claim judges, evidence and task "
             f"version; for overall, the same task set). "
             f"{reward_formulas({r.run.reward for rows in rows_by_task.values() for r in rows})}.\n"]
    for task, rows in rows_by_task.items():
        lines.append(f"\n## {task}\n")
        last = None
        for row in rows:
            head = ("Demo-quality (never ranked)", "demo") if row.section == "demo" else (row.group_label, row.group)
            if head != last:
                last = head
                lines.append(f"\n**{_md(head[0])}**" + (f" (group {head[1]})" if row.section != "demo" else "") + "\n")
                lines.append("| rank | run | " + " | ".join(m.header for m in cols) + " | n scored | judge | date |")
                lines.append("|" + "---|" * (len(cols) + 5))
            rank = str(row.rank) if row.rank is not None else f"– ({_md(row.unranked_reason)})"
            name = _md(row.run.model) + (f" — {_md(row.run.label)}" if row.run.label else "") + f" (run {_md(row.run.run_id)})"
            cells = [fmt_ci(row.result.metrics.get(m.key), m.key) for m in cols]
            lines.append(f"| {rank} | {name} | " + " | ".join(cells) +
                         f" | {row.result.n_scored} | {_md(row.run.judge)} ({row.run.judge_hosting}) | {row.run.date} |")
    return "\n".join(lines) + "\n"
