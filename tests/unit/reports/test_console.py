"""The console table: one row per task (plus OVERALL for several), labels and scaling from METRIC_INFO."""

from __future__ import annotations

from factbench.reports.console import summary_table
from factbench.store.artefacts import RunSummary


def _agg(p: float, s: float, n: int) -> dict:
    return {"n_answers": n, "abstention_rate": {"mean": 0.25, "ci95": [0, 0.5], "n": n},
            "mean_claims_per_answer": 12.0,
            "metrics": {"precision": {"mean": p, "ci95": [p - 0.1, p + 0.1], "n": n},
                        "supported": {"mean": s, "ci95": None, "n": n}}}


def test_rates_are_percentages_counts_are_not_and_overall_is_added():
    summary = RunSummary.model_validate({"run_id": "r", "factbench_version": "x",
                                         "tasks": {"bio": _agg(0.8, 9.5, 4), "fava": _agg(0.5, 3.0, 4)},
                                         "overall": _agg(0.65, 6.25, 8)})
    lines = summary_table(summary).splitlines()
    assert lines[0].split()[:6] == ["task", "answers", "scored", "abst.", "claims/ans", "precision"]
    assert "halluc." in lines[0] and "F1@K" in lines[0]
    bio = next(line for line in lines if line.startswith("bio"))
    assert "80.0 [70.0,90.0]" in bio and "9.5" in bio and "25%" in bio
    assert lines[-1].startswith("OVERALL") and "65.0 [55.0,75.0]" in lines[-1]
    assert bio.split()[-2:] == ["-", "-"]  # relevance not measured, no reward given


def test_single_task_has_no_overall_row():
    summary = RunSummary.model_validate({"run_id": "r", "factbench_version": "x", "tasks": {"bio": _agg(0.8, 9.5, 4)},
                                         "overall": _agg(0.8, 9.5, 4)})
    assert not any(line.startswith("OVERALL") for line in summary_table(summary).splitlines())
