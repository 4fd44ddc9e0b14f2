"""Hints only where they help: no resume hint without a run to resume, no retry hint a re-run cannot honour."""

from __future__ import annotations

import json

from conftest import role_args, write_longfact_fixture

from factbench.cli.main import main
from factbench.testing.scripted_server import Fault


def test_a_run_whose_directory_was_never_created_gets_no_resume_hint(tmp_path, server, capsys):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=2)
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the results directory should be\n")
    assert main(["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(blocked),
                 "--run-id", "x"] + role_args(server.base_url)) == 2
    err = capsys.readouterr().err
    assert f"factbench: error: cannot write {blocked / 'x'}" in err
    assert "re-run" not in err and "resume with" not in err


def test_a_stopped_run_is_told_how_to_resume(tmp_path, server, capsys):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=2)
    server.state.faults = [Fault("close", times=10**6)]  # the judge's connection drops: the run stops
    code = main(["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(tmp_path),
                 "--run-id", "r", "--max-retries", "6"] + role_args(server.base_url))
    assert code == 1
    assert "; re-run with --run-id r to resume" in capsys.readouterr().err


def test_prompts_missing_from_a_responses_file_are_not_offered_a_retry(tmp_path, server, capsys):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=3)
    responses = tmp_path / "answers.jsonl"
    responses.write_text(json.dumps({"id": "topic0-00", "response": "Object 0 is documented in source 1."}) + "\n")
    args = ["run", "--tasks", "longfact-objects", "--responses", str(responses), "--data-dir", str(data),
            "--results-dir", str(tmp_path), "--run-id", "m", "--fail-on-error", "2"] + role_args(server.base_url,
                                                                                                  model=False)
    assert main(args) == 0
    err = capsys.readouterr().err
    assert f"2 prompt(s) have no answer in the responses file {responses}" in err
    assert "to retry them" not in err
