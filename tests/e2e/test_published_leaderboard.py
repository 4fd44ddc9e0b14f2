"""The committed leaderboard/ is what the code builds from results/published/, and its measured rows
are the two human-label replays, ranked, with nothing unranked above them."""

from __future__ import annotations

import csv
from pathlib import Path

from factbench.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def test_committed_leaderboard_matches_the_code(tmp_path):
    out = tmp_path / "lb"
    assert main(["leaderboard", "build", str(ROOT / "results" / "published"), "--out", str(out)]) == 0
    built = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    committed = sorted(p.relative_to(ROOT / "leaderboard") for p in (ROOT / "leaderboard").rglob("*") if p.is_file())
    assert built == committed
    for rel in built:
        assert (out / rel).read_bytes() == (ROOT / "leaderboard" / rel).read_bytes(), f"run `make leaderboard`: {rel}"


def test_published_measured_rows_are_the_human_replays():
    with (ROOT / "leaderboard" / "leaderboard.csv").open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["task"] == "bio"]
    measured = [r for r in rows if r["section"] == "measured"]
    assert [(r["run_id"], r["rank"], r["precision"]) for r in measured] == [
        ("factscore-perplexityai-human", "1", "71.6"), ("factscore-instructgpt-human", "2", "42.6")]
    assert rows[:2] == measured  # nothing unranked above them
    assert all(r["section"] == "demo" and r["rank"] == "" for r in rows[2:])


def test_perplexityai_human_replay(shared_data, capsys):
    labels = shared_data / "factscore" / "labeled_data" / "PerplexityAI.jsonl"
    assert main(["score", "--labels", str(labels)]) == 0
    assert "human precision (FActScore without length penalty): 71.6 [" in capsys.readouterr().out
