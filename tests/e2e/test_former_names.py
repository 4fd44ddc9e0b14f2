"""Names from before the informativeness rename still work: the former flags (hidden, with a
warning), the former keywords (with a warning), and a run directory whose file is weights.jsonl."""

from __future__ import annotations

import json
import re

import pytest
from conftest import role_args, write_longfact_fixture

from factbench.cli.main import build_parser, main
from factbench.cli.options import options_from
from factbench.pipeline.options import RunOptions
from factbench.pipeline.settings import RunSettings
from factbench.reports.run_data import load_run_data
from factbench.store.artefacts import RunSummary


def _run_help() -> str:
    return build_parser()._subparsers._group_actions[0].choices["run"].format_help()  # type: ignore[union-attr]


def test_former_flags_are_hidden_aliases_that_warn(capsys):
    args = build_parser().parse_args(["run", "--no-weighting", "--weighting-judge", "openai/w",
                                      "--weighting-judge-concurrency", "3", "--judge", "openai/j", "--model", "openai/m"])
    err = capsys.readouterr().err
    assert "--no-weighting is now --no-informativeness" in err
    assert "--weighting-judge is now --informativeness-judge" in err
    options = options_from(args)
    assert options.informativeness is False
    assert options.role_option("informativeness_judge") == "openai/w"
    assert options.role_option("informativeness_judge", "_concurrency") == 3
    assert "--no-informativeness" in _run_help() and "--informativeness-judge-base-url" in _run_help()
    assert not re.search(r"--no-weighting\b|--weighting-judge", _run_help())  # hidden


def test_former_keywords_warn():
    with pytest.warns(FutureWarning, match="'weighting' is now 'informativeness'"):
        assert RunOptions.of(weighting=False).informativeness is False
    with pytest.warns(FutureWarning, match="'weighting_judge' is now 'informativeness_judge'"):
        assert RunOptions.of(weighting_judge="openai/w").role_option("informativeness_judge") == "openai/w"


def test_a_run_directory_from_before_the_rename_is_read(server, tmp_path):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=2)
    assert main(["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(tmp_path),
                 "--run-id", "old", "--no-relevance"] + role_args(server.base_url)) == 0
    run = tmp_path / "old"
    new = (run / "informativeness.jsonl").read_text()
    assert new
    # As an older factbench wrote it: the file's former name, the former keys in run.json and summary.json.
    (run / "informativeness.jsonl").rename(run / "weights.jsonl")
    spec = json.loads((run / "run.json").read_text())
    spec["settings"].pop("informativeness")
    spec["settings"]["weighting"] = False
    (run / "run.json").write_text(json.dumps(spec))
    assert RunSettings.model_validate(spec["settings"]).informativeness is False
    summary = json.loads((run / "summary.json").read_text())
    summary["errors"]["weighting_parse_errors"] = {"missing_class": 2}
    summary["errors"].pop("informativeness_parse_errors", None)
    (run / "summary.json").write_text(json.dumps(summary))
    loaded = load_run_data(run)
    assert len(loaded.informativeness) == 2
    assert RunSummary.model_validate_json((run / "summary.json").read_text()).errors.informativeness_parse_errors == {
        "missing_class": 2}
    assert not (run / "informativeness.jsonl").exists()
