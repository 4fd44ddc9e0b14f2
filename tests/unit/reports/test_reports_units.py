"""Focused checks of the leaderboard's pieces: tie rule, label placement, safe names, rounding."""

from __future__ import annotations

import random

from factbench.reports.lb_tables import spreadsheet_safe
from factbench.reports.metric_format import fmt, fmt_ci
from factbench.reports.pareto import _overlaps, place_labels
from factbench.reports.ranking import Row, assign_ranks
from factbench.reports.run_info import RunInfo, TaskResult, safe_file_stem


def _row(run_id: str, mean: float, lo: float, hi: float, n: int = 100, group: str = "g") -> Row:
    result = TaskResult(n_answers=n, n_scored=n, n_claims=10 * n, judge_errors=0, evidence="none", version="1",
                        metrics={"precision": {"mean": mean, "ci95": [lo, hi], "n": n}})
    run = RunInfo(run_dir=None, run_id=run_id, model=run_id, label="", kind="pipeline", judge="j", judge_hosting="",
                  judge_identity={}, date="", factbench_version="", step=None, tasks={"bio": result})
    return Row(run, "bio", result, group, "", "measured")


def test_ties_share_the_rank_of_their_group_leader_and_do_not_chain():
    rows = [_row("a", 0.80, 0.75, 0.85), _row("b", 0.78, 0.74, 0.82), _row("c", 0.72, 0.70, 0.745),
            _row("d", 0.60, 0.55, 0.65), _row("e", 0.90, 0.5, 1.0, n=10), _row("f", 0.5, 0.4, 0.6, group="h")]
    assign_ranks(rows)
    ranks = {r.run.run_id: r.rank for r in rows}
    # c overlaps b (0.74 <= 0.745) but not the leader a: a new rank, not a chained tie
    assert ranks == {"a": 1, "b": 1, "c": 3, "d": 4, "e": None, "f": 1}
    assert "only 10 scored answers" in rows[4].unranked_reason


def test_labels_never_overlap_each_other_or_points():
    rng = random.Random(0)
    anchors = [(100 + rng.random() * 40, 100 + rng.random() * 40) for _ in range(40)]
    widths = [rng.randint(30, 160) for _ in anchors]
    boxes = place_labels(anchors, widths, (0, 0, 600, 400))
    placed = [b for b in boxes if b is not None]
    assert 0 < len(placed) < len(anchors)  # some go to the side list
    for i, a in enumerate(placed):
        assert not any(_overlaps(a, b) for b in placed[i + 1:])
        assert not any(_overlaps(a, (x - 5, y - 5, x + 5, y + 5)) for x, y in anchors)


def test_safe_file_stems_are_plain_unique_names():
    taken: set[str] = set()
    stems = [safe_file_stem(x, taken) for x in ("../../x", "..", "/etc/passwd", "a\nb", "ok", "OK", "ok", "")]
    assert len(set(s.lower() for s in stems)) == len(stems)
    assert stems[4] == "ok"
    for s in stems:
        assert s and not s.startswith(".") and all(c.isalnum() or c in "._-" for c in s) and len(s) <= 80


def test_one_rounding_and_formula_escaping():
    assert fmt(0.42575, "precision") == "42.6" and fmt(11.538, "supported") == "11.5" and fmt(0.6371, "reward") == "0.637"
    assert fmt_ci({"mean": 0.4257, "ci95": [0.3857, 0.4674]}, "precision") == "42.6 [38.6, 46.7]"
    assert fmt_ci({"mean": None}, "precision") == "-"
    assert [spreadsheet_safe(x) for x in ("=1+1", "+1", "-2+3", "@SUM(A1)", "ok", 3, "-1.5")] == [
        "'=1+1", "'+1", "'-2+3", "'@SUM(A1)", "ok", 3, "-1.5"]
