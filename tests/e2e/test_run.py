"""End-to-end runs through the CLI against the scripted server over real HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import role_args, write_longfact_fixture

from factbench.cli.main import main
from factbench.testing.scripted_server import Fault, request_kind


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _expected_precision(run: Path) -> float:
    """Recompute precision from the answers with the scripted verifier's rule, by hand."""
    precisions = []
    for claims in _lines(run / "claims.jsonl"):
        texts = [c["text"] for c in claims["claims"]]
        s = sum(1 for t in texts if "Atlantis" not in t and "Perhaps" not in t)
        precisions.append(s / len(texts))
    return sum(precisions) / len(precisions)


def test_run_longfact_writes_complete_run_directory(shared_data, server, tmp_path, capsys):
    rc = main(["run", "--tasks", "longfact-objects", "--limit", "4", "--data-dir", str(shared_data),
               "--results-dir", str(tmp_path), "--run-id", "r1"] + role_args(server.base_url))
    assert rc == 0
    run = tmp_path / "r1"
    for name in ("run.json", "answers.jsonl", "claims.jsonl", "evidence.jsonl", "verdicts.jsonl", "summary.json"):
        assert (run / name).is_file(), name
    spec = json.loads((run / "run.json").read_text())
    assert spec["factbench_version"] and spec["started_at"] and spec["finished_at"]
    assert spec["roles"]["model"]["model"] == "openai/test-model"
    assert spec["roles"]["verifier"]["endpoints"] == [server.base_url]
    assert spec["roles"]["model"]["params"] == {"temperature": 0.0, "max_tokens": 2048}
    assert spec["tasks"]["longfact-objects"]["version"] == "1"
    assert spec["identity"]["templates"]["claims"].startswith("claims-v3+")
    assert len(spec["tasks"]["longfact-objects"]["prompt_ids"]) == 4
    assert "api_key" not in json.dumps(spec).replace("api_key_env", "")

    prompts = {p["id"]: p for p in _lines(run / "answers.jsonl")}
    assert len(prompts) == 4 and all(p["prompt"].endswith("?") for p in prompts.values())

    summary = json.loads((run / "summary.json").read_text())
    task = summary["tasks"]["longfact-objects"]
    assert task["n_answers"] == 4
    assert task["n_claims"] == sum(len(c["claims"]) for c in _lines(run / "claims.jsonl"))
    precision = task["metrics"]["precision"]
    assert precision["mean"] == pytest.approx(_expected_precision(run))
    assert precision["ci95"][0] <= precision["mean"] <= precision["ci95"][1]
    assert task["metrics"]["hallucination_rate"]["mean"] == pytest.approx(1 - precision["mean"])
    assert summary["overall"]["n_answers"] == 4
    assert summary["judges"]["verifier"]["model"] == "openai/judge"
    assert summary["judges"]["templates"]["claims"] == spec["identity"]["templates"]["claims"]
    assert summary["answers_from"]["model"] == "openai/test-model"
    out = capsys.readouterr().out
    assert "longfact-objects" in out and "precision" in out and "cache hits: 0/" in out


def test_resume_repeats_nothing_and_reports_cache_hits(tmp_path, server, capsys):
    data = write_longfact_fixture(tmp_path / "data")
    common = ["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(tmp_path / "res")]
    common += role_args(server.base_url)
    args = common + ["--run-id", "r"]
    assert main(args) == 0
    first = server.state.requests.total()
    summary1 = json.loads((tmp_path / "res" / "r" / "summary.json").read_text())
    assert main(args) == 0
    assert server.state.requests.total() == first  # all (sample, stage) pairs were already done
    summary2 = json.loads((tmp_path / "res" / "r" / "summary.json").read_text())
    assert summary2["resumed"] == {"answers": 6, "claims": 6, "evidence": 6, "verdicts": 6, "informativeness": 6}
    assert "already done before this invocation: answers 6" in capsys.readouterr().out
    assert summary2["tasks"] == summary1["tasks"]
    for stage in ("answers", "claims", "verdicts"):
        assert len(_lines(tmp_path / "res" / "r" / f"{stage}.jsonl")) == 6  # nothing duplicated
    # A new run id re-uses the call cache: same work, zero requests, hits in the summary.
    assert main(common + ["--run-id", "r-again"]) == 0
    assert server.state.requests.total() == first
    summary3 = json.loads((tmp_path / "res" / "r-again" / "summary.json").read_text())
    assert summary3["cache"]["hits"] == summary3["cache"]["calls"] > 0
    assert f"cache hits: {summary3['cache']['hits']}/" in capsys.readouterr().out


def test_resume_with_different_judge_is_refused(tmp_path, server, capsys):
    data = write_longfact_fixture(tmp_path / "data")
    base = ["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(tmp_path), "--run-id", "r"]
    assert main(base + role_args(server.base_url)) == 0
    other = ["--model", "openai/test-model", "--model-base-url", server.base_url, "--judge", "openai/other-judge",
             "--judge-base-url", server.base_url, "--no-progress", "--evidence", "none"]
    assert main(base + other) == 2
    err = capsys.readouterr().err
    assert "different configuration" in err and "openai/other-judge" in err


def test_responses_file_strips_reasoning_and_skips_generation(tmp_path, server):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=2)
    responses = tmp_path / "ckpt.jsonl"
    responses.write_text("\n".join(json.dumps(r) for r in [
        {"id": "topic0-00", "response": "<think>Let me recall facts.</think>Object 0 is documented in source 1."},
        {"id": "topic0-01", "response": "Records from Atlantis mention object 1.", "reasoning": "Hmm."},
    ]) + "\n")
    rc = main(["run", "--tasks", "longfact-objects", "--responses", str(responses), "--data-dir", str(data),
               "--results-dir", str(tmp_path / "res"), "--run-id", "ck"] + role_args(server.base_url, model=False))
    assert rc == 0
    assert server.state.requests["generate"] == 0
    answers = {a["id"]: a for a in _lines(tmp_path / "res" / "ck" / "answers.jsonl")}
    assert answers["topic0-00"]["answer"] == "Object 0 is documented in source 1."
    assert answers["topic0-00"]["reasoning"] == "Let me recall facts."
    assert answers["topic0-01"]["reasoning"] == "Hmm."
    assert all("<think>" not in m["content"] for body in server.state.log for m in body["messages"])
    summary = json.loads((tmp_path / "res" / "ck" / "summary.json").read_text())
    assert summary["overall"]["metrics"]["precision"]["mean"] == pytest.approx(0.5)  # 1/1 and 0/1
    # One task: its block carries the overall figures, intervals included (bootstrapped once).
    assert summary["tasks"]["longfact-objects"]["metrics"] == summary["overall"]["metrics"]
    assert summary["tasks"]["longfact-objects"]["metrics"]["precision"]["ci95"] is not None


def test_malformed_responses_file_names_file_and_line(tmp_path, server, capsys):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=2)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "topic0-00", "response": "ok"}\n{"id": "topic0-01", "response": 5}\n')
    rc = main(["run", "--tasks", "longfact-objects", "--responses", str(bad), "--data-dir", str(data),
               "--results-dir", str(tmp_path)] + role_args(server.base_url, model=False))
    assert rc == 2
    assert f"{bad}:2" in capsys.readouterr().err


def test_rescore_existing_run_with_another_judge(tmp_path, server):
    data = write_longfact_fixture(tmp_path / "data")
    res = tmp_path / "res"
    assert main(["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(res),
                 "--run-id", "src"] + role_args(server.base_url)) == 0
    generated = server.state.requests["generate"]
    rc = main(["score", str(res / "src"), "--judge", "openai/judge-2", "--judge-base-url", server.base_url,
               "--data-dir", str(data), "--results-dir", str(res), "--run-id", "rescored", "--no-progress",
               "--evidence", "none"])
    assert rc == 0
    assert server.state.requests["generate"] == generated  # nothing regenerated
    new_answers = {a["id"]: a["answer"] for a in _lines(res / "rescored" / "answers.jsonl")}
    old_answers = {a["id"]: a["answer"] for a in _lines(res / "src" / "answers.jsonl")}
    assert new_answers == old_answers
    spec = json.loads((res / "rescored" / "run.json").read_text())
    assert spec["roles"]["verifier"]["model"] == "openai/judge-2"
    assert spec["identity"]["answers"].startswith("responses:answers.jsonl@")


def test_stage_failure_is_recorded_counted_and_retried_on_resume(tmp_path, server, capsys):
    data = write_longfact_fixture(tmp_path / "data")
    server.state.faults = [Fault("status:500", when=lambda b: request_kind(b) == "verify", times=1000)]
    args = ["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(tmp_path),
            "--run-id", "f", "--max-retries", "1", "--fail-on-error", "0"] + role_args(server.base_url)
    assert main(args) == 1
    summary = json.loads((tmp_path / "f" / "summary.json").read_text())
    assert summary["errors"]["stage_failures"]["verdicts"]["server_error"] == 6
    assert summary["errors"]["failed_samples"] == 6
    overall = summary["overall"]
    # every answer is counted: none has a reward from a failed judge, none is dropped
    assert (overall["n_answers"], overall["n_scored"], overall["n_unscored"]) == (6, 0, 6)
    assert overall["answer_status"]["judge_failed"] == 6 and overall["metrics"]["reward"]["n"] == 0
    errors = _lines(tmp_path / "f" / "errors.jsonl")
    assert {e["stage"] for e in errors} == {"verdicts"}
    assert "re-run with --run-id f" in capsys.readouterr().err
    server.state.faults = []
    before = server.state.requests.copy()
    assert main(args) == 0
    assert server.state.requests["generate"] == before["generate"]  # only the missing stage ran
    summary = json.loads((tmp_path / "f" / "summary.json").read_text())
    assert summary["errors"]["failed_samples"] == 0 and summary["overall"]["n_answers"] == 6


def test_unparseable_judge_output_is_counted_never_scored(tmp_path, server):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=1)
    server.state.faults = [Fault("text:I think they all look fine to me.", when=lambda b: request_kind(b) == "verify")]
    # claims left without a label count against --fail-on-error (default 5%): exit 1
    assert main(["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(tmp_path),
                 "--run-id", "p"] + role_args(server.base_url)) == 1
    verdicts = _lines(tmp_path / "p" / "verdicts.jsonl")[0]
    assert set(verdicts["labels"]) == {None}
    summary = json.loads((tmp_path / "p" / "summary.json").read_text())
    assert summary["errors"]["verification_parse_errors"]["invalid_json"] == len(verdicts["labels"])
    assert summary["errors"]["parse"]["verdicts"]["unparsed"] == len(verdicts["labels"])
    assert summary["errors"]["gate_failures"] == 1 and summary["errors"]["failed_samples"] == 0
    assert summary["overall"]["metrics"]["precision"]["n"] == 0
    assert summary["overall"]["answer_status"]["judge_failed"] == 1


def test_missing_task_data_is_skipped_with_reason(tmp_path, server, capsys):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=1)
    rc = main(["run", "--tasks", "longfact-objects,factory", "--data-dir", str(data), "--results-dir", str(tmp_path),
               "--run-id", "s"] + role_args(server.base_url))
    assert rc == 0
    err = capsys.readouterr().err
    assert "factory: skipped" in err
    spec = json.loads((tmp_path / "s" / "run.json").read_text())
    assert "factory" in spec["skipped_tasks"] and list(spec["tasks"]) == ["longfact-objects"]


def test_relevance_uses_task_references_in_both_orders(shared_data, tmp_path, server):
    rc = main(["run", "--tasks", "alpacafact", "--limit", "3", "--data-dir", str(shared_data),
               "--results-dir", str(tmp_path), "--run-id", "rel"] + role_args(server.base_url))
    assert rc == 0
    records = _lines(tmp_path / "rel" / "relevance.jsonl")
    assert len(records) == 3 and server.state.requests["relevance"] == 6
    for r in records:
        assert len(r["winners"]) == 2 and r["reference_source"] == "task:gpt4"
    answers = _lines(tmp_path / "rel" / "answers.jsonl")
    assert all(a["prompt"] is None for a in answers)  # non-commercial prompts are not copied into results


def test_position_biased_judge_scores_half(tmp_path, shared_data, server):
    server.state.faults = [Fault('text:{"winner": "A"}', when=lambda b: request_kind(b) == "relevance", times=100)]
    assert main(["run", "--tasks", "alpacafact", "--limit", "2", "--data-dir", str(shared_data),
                 "--results-dir", str(tmp_path), "--run-id", "bias"] + role_args(server.base_url)) == 0
    assert {r["score"] for r in _lines(tmp_path / "bias" / "relevance.jsonl")} == {0.5}


def test_labels_replay_gives_published_human_factscore(shared_data, capsys):
    path = shared_data / "factscore" / "labeled_data" / "InstructGPT.jsonl"
    assert main(["score", "--labels", str(path), "--json"]) == 0
    agg = json.loads(capsys.readouterr().out)
    assert round(agg["metrics"]["precision"]["mean"] * 100, 1) == 42.6
    assert agg["n_abstained"] == 1 and agg["n_answers"] == 183


def test_list_tasks_and_cache_stats(shared_data, capsys, tmp_path):
    assert main(["list", "tasks", "--data-dir", str(shared_data), "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["longfact-objects"]["prompts"] == 1140 and rows["bio"]["license"] == "MIT"
    assert main(["cache", "stats"]) == 0
    assert "entries" in json.loads(capsys.readouterr().out)


def test_tasks_all_runs_present_tasks_and_reports_skipped(shared_data, tmp_path, server, capsys):
    rc = main(["run", "--tasks", "all", "--limit", "2", "--data-dir", str(shared_data), "--results-dir", str(tmp_path),
               "--run-id", "all"] + role_args(server.base_url))
    assert rc == 0
    err = capsys.readouterr().err
    assert "resolved --tasks 'all': " in err
    spec = json.loads((tmp_path / "all" / "run.json").read_text())
    ran = set(spec["tasks"])
    assert ran == {"longfact-objects", "longfact-concepts", "bio", "alpacafact", "factbench-hard"}
    assert set(spec["skipped_tasks"]) == {"fava", "factory", "factory-hard"}
    for name in spec["skipped_tasks"]:
        assert f"{name}: skipped" in err
    summary = json.loads((tmp_path / "all" / "summary.json").read_text())
    assert all(summary["tasks"][t]["n_answers"] == 2 for t in ran)
    assert spec["tasks"]["alpacafact"]["version"].endswith("alpacafact-rule-1")
    assert len(spec["tasks"]["alpacafact"]["prompt_ids"]) == 2  # the selected ids are recorded
