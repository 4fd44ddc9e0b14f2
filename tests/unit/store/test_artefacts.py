"""run.json and summary.json: typed, one writer and reader, documented field by field."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from factbench.store.artefacts import SUMMARY_SCHEMA_VERSION, RunSpec, RunSummary, field_reference
from factbench.store.run_dir import RunStore

ROOT = Path(__file__).resolve().parents[3]


def test_schema_doc_field_tables_match_the_models():
    doc = (ROOT / "docs" / "summary-schema.md").read_text()
    section = re.search(r"<!-- fields:begin -->\n(.*)<!-- fields:end -->", doc, re.DOTALL)
    assert section, "docs/summary-schema.md lost its generated field tables"
    assert section.group(1) == field_reference(), "regenerate with: python -m factbench.store.artefacts"


@pytest.mark.parametrize("run", sorted(p.name for p in (ROOT / "results" / "published").iterdir()))
def test_published_runs_read_through_the_models(run):
    store = RunStore(ROOT / "results" / "published" / run)
    spec, summary = store.read_spec(), store.read_summary()
    assert spec is not None and summary is not None
    assert spec.run_id == run == summary.run_id
    # n_scored: answers with a precision in schema 1, answers with a reward since schema 2
    metric = "precision" if summary.schema_version < 2 else "reward"
    assert summary.overall.metrics[metric].n == summary.overall.n_scored


def test_round_trip_keeps_unknown_fields(tmp_path):
    store = RunStore(tmp_path)
    tmp_path.mkdir(exist_ok=True)
    data = {"run_id": "r", "factbench_version": "9.9", "from_the_future": {"x": 1},
            "overall": {"n_answers": 2, "metrics": {"precision": {"mean": 0.5, "ci95": [0.4, 0.6], "n": 2}}}}
    (tmp_path / "summary.json").write_text(json.dumps(data))
    summary = store.read_summary()
    assert summary.overall.metrics["precision"].mean == 0.5
    store.write_summary(summary)
    again = json.loads((tmp_path / "summary.json").read_text())
    assert again["from_the_future"] == {"x": 1} and again["schema_version"] == SUMMARY_SCHEMA_VERSION
    spec = RunSpec(run_id="r", factbench_version="1", tasks={})
    store.write_spec(spec)
    assert store.read_spec() == spec
    assert isinstance(RunSummary.model_validate(again), RunSummary)
