"""Leaderboard ranking rules, safe file names and unreadable runs (synthetic runs, real CLI)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from factbench.cli.main import main
from factbench.testing.synthetic_run import write_synthetic_run


def _csv(out: Path) -> list[dict[str, str]]:
    with (out / "leaderboard.csv").open(encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _row(rows: list[dict[str, str]], run_id: str, task: str) -> dict[str, str]:
    return next(r for r in rows if r["run_id"] == run_id and r["task"] == task)


def test_only_comparable_rows_are_ranked_together(tmp_path, capsys):
    res = tmp_path / "results"
    write_synthetic_run(res / "team-a" / "two-tasks", 80, tasks=("longfact-objects", "bio"), p_unsupported=0.1)
    write_synthetic_run(res / "team-b" / "nested" / "bio-only", 80, tasks=("bio",), p_unsupported=0.5, seed=1)
    write_synthetic_run(res / "bio-tied", 80, tasks=("bio",), p_unsupported=0.1, seed=2)
    write_synthetic_run(res / "other-judge", 80, tasks=("bio",), judge="openai/judge-b", seed=3)
    write_synthetic_run(res / "few", 12, tasks=("bio",), seed=4)
    write_synthetic_run(res / "noisy", 80, tasks=("bio",), p_no_verdict=0.3, seed=5)
    write_synthetic_run(res / "tiny-demo", 80, tasks=("bio",), label="demo-quality: a 135M judge", p_unsupported=0.0)
    out = tmp_path / "lb"
    assert main(["leaderboard", "build", str(res), "--out", str(out)]) == 0  # found below res/
    rows = _csv(out)
    assert {r["run_id"] for r in rows} == {"two-tasks", "bio-only", "bio-tied", "other-judge", "few", "noisy", "tiny-demo"}
    # overall: a run over two tasks and runs over bio alone are never in one group
    two, bio_only = _row(rows, "two-tasks", "overall"), _row(rows, "bio-only", "overall")
    assert two["group"] != bio_only["group"] and two["rank"] == "1"
    assert {r["group"] for r in rows if r["task"] == "overall" and r["run_id"] in ("bio-only", "bio-tied")} == {bio_only["group"]}
    # on bio itself the same judge, evidence and version are comparable
    bio = {r["run_id"]: r for r in rows if r["task"] == "bio"}
    assert bio["two-tasks"]["group"] == bio["bio-only"]["group"] == bio["bio-tied"]["group"]
    assert bio["two-tasks"]["rank"] == bio["bio-tied"]["rank"] == "1"  # overlapping CIs share a rank
    assert bio["bio-only"]["rank"] == "3"  # competition ranking after a tie
    assert bio["other-judge"]["group"] != bio["two-tasks"]["group"] and bio["other-judge"]["rank"] == "1"
    assert bio["few"]["rank"] == "" and "only 12 scored answers (needs 30)" in bio["few"]["unranked_reason"]
    assert bio["noisy"]["rank"] == "" and "without a verdict" in bio["noisy"]["unranked_reason"]
    assert bio["tiny-demo"]["rank"] == "" and bio["tiny-demo"]["section"] == "demo"
    # demo rows come after every measured row; one rounding in csv, md and html
    order = [r["run_id"] for r in rows if r["task"] == "bio"]
    assert order[-1] == "tiny-demo"
    p = bio["bio-tied"]
    cell = f"{p['precision']} [{p['precision_ci_low']}, {p['precision_ci_high']}]"
    assert cell in (out / "leaderboard.md").read_text() and cell in (out / "index.html").read_text()
    html = (out / "index.html").read_text()
    assert "reward = P + λ·ln(1 + S) + μ·r" in html and "Combined" not in html  # the formula of the runs shown


def test_crafted_run_ids_cannot_write_outside_out(tmp_path):
    res = tmp_path / "received"
    ids = ["../../x", "/tmp/abs", "..", "a\nb", "=cmd|' /C calc'!A0", "ok"]
    for n, run_id in enumerate(ids):
        d = write_synthetic_run(res / f"r{n}", 40, tasks=("bio",), seed=n, model="=HYPERLINK(\"http://x\")")
        spec = json.loads((d / "run.json").read_text())
        spec["run_id"] = run_id
        (d / "run.json").write_text(json.dumps(spec))
    out = tmp_path / "site" / "lb"
    out.parent.mkdir()
    before = {p for p in tmp_path.rglob("*")}
    assert main(["leaderboard", "build", str(res), "--out", str(out)]) == 0
    written = {p for p in tmp_path.rglob("*")} - before
    assert written and all(p.resolve().is_relative_to(out.resolve()) for p in written)
    pages = sorted(p.name for p in (out / "runs").iterdir())
    assert len(pages) == len(ids) and "ok.html" in pages
    assert all("/" not in p and "\n" not in p and not p.startswith(".") for p in pages)
    assert not Path("/tmp/abs.html").exists() and not (tmp_path / "x.html").exists()
    rows = _csv(out)
    assert {r["model"] for r in rows} == {"'=HYPERLINK(\"http://x\")"}  # a spreadsheet shows it, never runs it
    assert any(r["run_id"] == "'=cmd|' /C calc'!A0" for r in rows)


def test_unreadable_runs_are_skipped_with_a_warning(tmp_path, capsys):
    res = tmp_path / "res"
    write_synthetic_run(res / "good", 40, tasks=("bio",))
    bad_json = write_synthetic_run(res / "bad-json", 40, tasks=("bio",))
    (bad_json / "run.json").write_text("{not json")
    no_summary = write_synthetic_run(res / "no-summary", 40, tasks=("bio",))
    (no_summary / "summary.json").unlink()
    odd = write_synthetic_run(res / "odd-shape", 40, tasks=("bio",))
    (odd / "summary.json").write_text(json.dumps({"tasks": {"bio": "oops"}}))
    torn = write_synthetic_run(res / "torn-claims", 40, tasks=("bio",))
    with (torn / "claims.jsonl").open("a") as fh:
        fh.write("\x00garbage\n")
    out = tmp_path / "lb"
    assert main(["leaderboard", "build", str(res), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    for name in ("bad-json", "no-summary", "odd-shape"):
        assert f"warning: skipped {res / name}" in err, name
    assert "torn-claims: no answers page" in err and "claims.jsonl" in err
    assert {r["run_id"] for r in _csv(out)} == {"good", "torn-claims"}
    assert main(["leaderboard", "build", str(bad_json), "--out", str(tmp_path / "lb2")]) == 2
    assert "no readable run directory" in capsys.readouterr().err


def test_trend_view_for_a_series_of_steps(tmp_path):
    res = tmp_path / "res"
    for n, step in enumerate((100, 200, 300)):
        write_synthetic_run(res / f"ckpt-{step}", 40, tasks=("bio",), seed=n, label=f"my-ckpt step {step}",
                            p_unsupported=0.1 + 0.1 * n)
    write_synthetic_run(res / "other", 40, tasks=("bio",), extra_spec={"settings": {"step": 5}})
    out = tmp_path / "lb"
    assert main(["leaderboard", "build", str(res), "--out", str(out)]) == 0
    html = (out / "index.html").read_text()
    assert html.count('class="trend" data-task="bio"') == 1
    trend = html.split('class="trend" data-task="bio"')[1].split("</svg>")[0]
    assert trend.count("<circle") == 3 and "my-ckpt" in trend  # the single-step run is no series
    assert {r["step"] for r in _csv(out) if r["task"] == "bio"} == {"100", "200", "300", "5"}
