"""Export and load_run over a real pipeline run; the compare diff page in real Chromium."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
from browser import chromium_page, screenshot
from conftest import write_longfact_fixture

import factbench
from factbench.cli.main import main
from factbench.reports.run_tables import CLAIM_COLUMNS
from factbench.testing.scripted_server import Fault, request_kind

IDS = [f"topic{t}-{i:02d}" for t in range(4) for i in range(15)]


def _answers(bad: set[int], hostile: str = "") -> list[str]:
    out = []
    for i in range(60):
        parts = [f"Object {i} is documented in source {j} of the archive." for j in range(8)]
        if i in bad:
            parts[0] = f"Records from Atlantis mention object {i}."
        if hostile and i == 5:
            parts[1] = f"Object 5 is known as {hostile}."
        out.append(" ".join(parts))
    return out


def _run(tmp_path: Path, server, run_id: str, answers: list[str], *extra: str) -> Path:
    data = tmp_path / "data"
    if not data.exists():
        write_longfact_fixture(data, n_topics=4, per_topic=15)
    responses = tmp_path / f"{run_id}.jsonl"
    responses.write_text("".join(json.dumps({"id": pid, "response": a}) + "\n" for pid, a in zip(IDS, answers)))
    args = ["run", "--tasks", "longfact-objects", "--responses", str(responses), "--data-dir", str(data),
            "--results-dir", str(tmp_path / "results"), "--run-id", run_id, "--judge", "openai/judge",
            "--judge-base-url", server.base_url, "--no-progress", "--no-relevance", "--evidence", "none", *extra]
    main(args)
    return tmp_path / "results" / run_id


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_export_has_one_row_per_claim_and_load_run_round_trips(tmp_path, server):
    # one answer's verification fails for good: its claims are exported without a label, with the error kind
    server.state.faults = [Fault("status:500", when=lambda b: request_kind(b) == "verify" and "Object 7 " in str(b),
                                 times=100)]
    run = _run(tmp_path, server, "r", _answers(bad={1, 2}), "--max-retries", "0", "--fail-on-error", "5",
               "--step", "7")
    for stage in ("answers", "claims", "evidence", "verdicts", "relevance", "errors"):
        assert (run / f"{stage}.jsonl").is_file(), stage  # created even when empty
    assert (run / "relevance.jsonl").read_text() == ""
    n_claims = sum(len(c["claims"]) for c in _lines(run / "claims.jsonl"))
    assert n_claims == 480

    out = tmp_path / "claims.parquet"
    proc = subprocess.run([sys.executable, "-m", "factbench", "export", str(run), "--format", "parquet", "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    table = pd.read_parquet(out)
    assert len(table) == n_claims and list(table.columns) == CLAIM_COLUMNS
    assert set(table["label"].dropna()) == {"supported", "unsupported"}
    failed = table[table["id"] == "topic0-07"]
    assert len(failed) == 8 and failed["label"].isna().all() and set(failed["judge_error"]) == {"server_error"}
    atlantis = table[table["claim"].str.contains("Atlantis")]
    assert len(atlantis) == 2 and set(atlantis["label"]) == {"unsupported"} and atlantis["sentence_idx"].eq(0).all()
    assert table["run_id"].eq("r").all() and table["verifier_template"].dropna().str.startswith("verify-").all()

    loaded = factbench.load_run(run)
    assert len(loaded.claims) == n_claims and loaded.summary.run_id == "r" and loaded.spec.run_id == "r"
    assert loaded.spec.settings["step"] == 7  # --step: the leaderboard's trend view reads it
    pd.testing.assert_frame_equal(loaded.claims.reset_index(drop=True), table, check_dtype=False)
    assert len(loaded.answers) == 60
    assert loaded.answers.set_index("id").loc["topic0-07", "stage_error"] == "verdicts:server_error"

    assert main(["export", str(run), "--format", "jsonl", "--out", str(tmp_path / "a.jsonl"), "--level", "answer"]) == 0
    answers = _lines(tmp_path / "a.jsonl")
    assert len(answers) == 60 and {"precision", "reward", "answer", "stage_error"} <= set(answers[0])
    assert main(["export", str(run), "--format", "csv", "--out", str(tmp_path / "c.csv")]) == 0
    with (tmp_path / "c.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == n_claims and json.loads(rows[0]["evidence_ids"]) == []
    assert main(["export", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x.parquet")]) == 2


def test_compare_html_diff_page_shows_regressions_and_flipped_claims(tmp_path, server, capsys):
    hostile = "<script>alert('x')</script>"
    base = _run(tmp_path, server, "base", _answers(bad=set(), hostile=hostile))
    # the candidate: the same answers, and the judge now rejects every claim of one answer (topic0-05)
    flipped = json.dumps({"verdicts": [{"id": i, "label": "unsupported"} for i in range(1, 9)]})
    server.state.faults = [Fault(f"text:{flipped}", when=lambda b: request_kind(b) == "verify" and "Object 5 " in str(b),
                                 times=10)]
    cand = _run(tmp_path, server, "cand", _answers(bad={9}, hostile=hostile), "--no-cache")
    page_file = tmp_path / "diff.html"
    assert main(["compare", str(base), str(cand), "--html", str(page_file), "--max-drop", "5"]) == 0
    report = capsys.readouterr().out
    assert "Biggest regressions" in report
    tail = report.split("Biggest regressions")[1]
    worst = [line for line in tail.splitlines() if line.startswith("| longfact-objects |")]
    assert len(worst) == 2  # the two prompts that got worse
    assert worst[0].startswith("| longfact-objects | topic0-05 | 100.0 | 0.0 | -100.0pp |")
    assert "(supported → unsupported)" in worst[0]
    assert "topic0-09" in worst[1]
    assert hostile not in page_file.read_text()
    with chromium_page() as page:
        page.goto(page_file.as_uri())
        rows = page.locator("#prompts tr.prompt")
        assert rows.count() == 60
        first = rows.nth(0)
        assert first.locator("td").nth(1).inner_text() == "topic0-05"
        assert first.locator("td").nth(5).inner_text() == "-100.0pp"
        first.locator("details.flips summary").click()
        flips = first.locator("li.flip")
        assert flips.count() == 8 and "supported → unsupported" in flips.nth(0).inner_text()
        assert hostile in flips.nth(1).inner_text()  # shown as text
        second = rows.nth(1)
        second.locator("details.flips summary").click()
        assert "Records from Atlantis mention object 9" in second.inner_text() and "new" in second.inner_text()
        page.select_option("#show", "flipped")
        assert page.locator("#prompts tr.prompt:visible").count() == 1
        page.select_option("#show", "")
        screenshot(page, "diff")
        assert page.dialogs == [] and page.errors == []
