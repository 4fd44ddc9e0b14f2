"""Per-prompt differences between a baseline and a candidate run (the same prompts, paired):
the metric change of each prompt and the claims whose label flipped, biggest regressions first.

A claim "flipped" when the same claim text (case and spacing ignored) appears in both runs'
answers to a prompt with different labels; claims that only the candidate makes and that are
unsupported are listed as new unsupported claims.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from factbench.reports.run_data import RunData, load_run_data


@dataclass
class PromptDiff:
    task: str
    id: str
    base: float  # shown units (percentage points for rates)
    candidate: float
    change: float  # positive = candidate better (for hallucination_rate: fewer hallucinations)
    prompt: str = ""
    flipped: list[tuple[str, str, str]] = field(default_factory=list)  # (claim, base label, candidate label)
    new_unsupported: list[str] = field(default_factory=list)


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().rstrip(".").casefold()


def _labels(data: RunData, key: str) -> dict[str, tuple[str, str]]:
    c, v = data.claims.get(key), data.verdicts.get(key)
    if c is None:
        return {}
    labels = v.labels if v else []
    return {_norm(cl.text): (cl.text, (labels[i] if i < len(labels) else None) or "no verdict")
            for i, cl in enumerate(c.claims)}


def prompt_diffs(base_dir: str | Path, cand_dir: str | Path, metric: str, scale: float,
                 higher_is_better: bool) -> list[PromptDiff]:
    """Every prompt scored in both runs, the biggest regression first."""
    base, cand = load_run_data(base_dir), load_run_data(cand_dir)
    sign = 1.0 if higher_is_better else -1.0
    out = []
    for key, row in cand.scores.items():
        brow = base.scores.get(key)
        if brow is None or brow.get(metric) is None or row.get(metric) is None:
            continue
        b, c = brow[metric] * scale, row[metric] * scale
        before, after = _labels(base, key), _labels(cand, key)
        flipped = [(after[k][0], before[k][1], after[k][1]) for k in after if k in before and before[k][1] != after[k][1]]
        new_uns = [after[k][0] for k in after if k not in before and after[k][1] == "unsupported"]
        a = cand.answers.get(key) or base.answers.get(key)
        out.append(PromptDiff(str(row["task"]), str(row["id"]), b, c, (c - b) * sign,
                              (a.prompt or "") if a else "", flipped, new_uns))
    out.sort(key=lambda d: (d.change, -len(d.flipped), d.task, d.id))
    return out
