"""What a run's readers show: every scores.jsonl field in the answer tables, each claim's
informativeness class and informativeness errors in the tables and the viewer (real Chromium)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from browser import chromium_page
from conftest import role_args

import factbench
from factbench.cli.main import main
from factbench.reports.run_data import load_run_data
from factbench.reports.viewer import viewer_data


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, server_module) -> Path:
    """A demo run on the scripted judge, with one claim's class replaced by an informativeness error."""
    root = tmp_path_factory.mktemp("fields")
    assert main(["run", "--tasks", "demo", "--limit", "2", *role_args(server_module.base_url),
                 "--results-dir", str(root), "--run-id", "r"]) == 0
    run = root / "r"
    informativeness = [json.loads(line) for line in (run / "informativeness.jsonl").read_text().splitlines()]
    broken = dict(informativeness[0], classes=[None] + informativeness[0]["classes"][1:],
                  errors=["invalid_json"] + informativeness[0]["errors"][1:])
    with (run / "informativeness.jsonl").open("a") as fh:  # a later record of a sample replaces the earlier one
        fh.write(json.dumps(broken) + "\n")
    return run


@pytest.fixture(scope="module")
def server_module():
    from factbench.testing.scripted_server import ScriptedServer, ScriptedState

    with ScriptedServer(ScriptedState()) as srv:
        yield srv


def test_answer_tables_carry_every_scores_field(run_dir):
    fields = {k for line in (run_dir / "scores.jsonl").read_text().splitlines() for k in json.loads(line)}
    assert {"weighted_precision", "usage", "cost_usd", "status", "informativeness_errors"} <= fields
    answers = factbench.load_run(run_dir).answers
    assert fields <= set(answers.columns), fields - set(answers.columns)
    assert list(factbench.EvalResult.load(run_dir).scores_df().columns) == list(answers.columns)
    rows = {json.loads(line)["id"]: json.loads(line) for line in (run_dir / "scores.jsonl").read_text().splitlines()}
    for _, row in answers.iterrows():
        for field in ("weighted_precision", "status", "usage", "informativeness_errors"):
            assert row[field] == rows[row["id"]][field]


def test_claim_tables_carry_each_claims_class(run_dir):
    claims = factbench.load_run(run_dir).claims
    assert claims["informativeness"].notna().sum() == len(claims) - 1
    assert claims["informativeness_error"].dropna().tolist() == ["invalid_json"]


def test_exports_write_the_usage_dicts_as_json_text(run_dir, tmp_path):
    pytest.importorskip("pyarrow")
    import pandas as pd

    assert main(["export", str(run_dir), "--format", "parquet", "--level", "answer", "--out",
                 str(tmp_path / "a.parquet")]) == 0
    usage = pd.read_parquet(tmp_path / "a.parquet")["usage"]
    assert "extractor" in json.loads(usage.iloc[0])


def test_the_viewer_shows_classes_and_informativeness_errors(run_dir, tmp_path):
    index, chunks = viewer_data(load_run_data(run_dir))
    problems = [a["f"] for a in index["answers"]]
    assert "informativeness: 1 claim without a class" in problems
    classes = [c for chunk in chunks for d in chunk for c in d["wc"]]
    assert None in classes and "informative" in classes
    out = tmp_path / "view.html"
    assert main(["view", str(run_dir), "--out", str(out)]) == 0
    with chromium_page() as page:
        page.goto(out.as_uri())
        assert "informativeness: 1 claim without a class" in page.locator("#rows").inner_text()
        page.locator("#rows tr.answer-row", has_text="informativeness: 1").first.click()
        tags = page.locator("tr.detail ol.claims li span.wcls").all_inner_texts()
        assert tags[0] == "no class (invalid_json)" and "informative" in tags[1:]
        assert page.errors == []
