"""Trust between runs, through the CLI against the scripted server over real HTTP: identity
without endpoints, only parsed judge answers are done, every answer has a value, no silent
evidence downgrade, accounting across invocations, and a clean stop at --max-cost."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import role_args, write_longfact_fixture

from factbench.cli.main import main
from factbench.evidence.corpus import PassageStore
from factbench.llm.cache import CallCache
from factbench.stages.claims import spans_of
from factbench.testing.scripted_server import Fault, ScriptedServer, ScriptedState, request_kind


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


def _latest(path: Path) -> dict[str, dict]:
    return {r["id"]: r for r in _lines(path)}


def _run_args(data: Path, results: Path, run_id: str, url: str, *extra: str) -> list[str]:
    return ["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(results),
            "--run-id", run_id, *extra] + role_args(url)


# ------------------------------------------------------------------ 1. identity = what changes the output

def test_resume_on_a_new_port_sends_nothing_and_old_identities_stay_resumable(tmp_path, capsys):
    data = write_longfact_fixture(tmp_path / "data")
    served = ("test-model", "judge")  # what GET /v1/models lists
    with ScriptedServer(ScriptedState(models=served)) as server:
        assert main(_run_args(data, tmp_path, "r", server.base_url)) == 0
    spec = json.loads((tmp_path / "r" / "run.json").read_text())
    assert "endpoints" not in json.dumps(spec["identity"])  # provenance only
    assert spec["roles"]["verifier"]["endpoints"] == [server.base_url]
    assert spec["identity"]["judges"]["verifier"]["served_model"] == "judge"  # what /v1/models reports
    # A run.json written before endpoints became provenance: endpoints inside its identity.
    for role in spec["identity"]["judges"].values():
        role["endpoints"] = [server.base_url]
    spec["identity"]["model"]["endpoints"] = [server.base_url]
    (tmp_path / "r" / "run.json").write_text(json.dumps(spec))
    with ScriptedServer(ScriptedState(models=served)) as moved:  # the same judge, restarted on another port
        assert moved.port != server.port
        assert main(_run_args(data, tmp_path, "r", moved.base_url)) == 0
        assert moved.state.requests.total() == 0
        # A new run id on the new port is served from the call cache: endpoints are not in its key.
        assert main(_run_args(data, tmp_path, "r2", moved.base_url)) == 0
        assert moved.state.requests.total() == 0
    summary = json.loads((tmp_path / "r2" / "summary.json").read_text())
    assert summary["cache"]["hits"] == summary["cache"]["calls"] > 0
    assert json.loads((tmp_path / "r" / "run.json").read_text())["roles"]["verifier"]["endpoints"] == [moved.base_url]
    # Another model behind the same name and URL is another judge: the resume is refused.
    with ScriptedServer(ScriptedState(models=("other-weights",))) as swapped:
        capsys.readouterr()
        assert main(_run_args(data, tmp_path, "r", swapped.base_url, "--no-preflight")) == 2
        assert "judges.verifier.served_model: 'judge' -> 'other-weights'" in capsys.readouterr().err


def test_a_pinned_judge_revision_is_identity(tmp_path, server, capsys):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=2)
    assert main(_run_args(data, tmp_path, "r", server.base_url, "--judge-revision", "ckpt-a")) == 0
    assert json.loads((tmp_path / "r" / "run.json").read_text())["identity"]["judges"]["verifier"]["revision"] == "ckpt-a"
    capsys.readouterr()
    assert main(_run_args(data, tmp_path, "r", server.base_url, "--judge-revision", "ckpt-b")) == 2
    assert "judges.verifier.revision: 'ckpt-a' -> 'ckpt-b'" in capsys.readouterr().err


def test_compare_of_runs_judged_on_different_endpoints_exits_0(tmp_path, server, capsys):
    data = write_longfact_fixture(tmp_path / "data", n_topics=2, per_topic=5)
    responses = tmp_path / "answers.jsonl"
    responses.write_text("".join(json.dumps({"id": f"topic{t}-{i:02d}", "response": f"Object {t}-{i} is in source {i}."})
                                 + "\n" for t in range(2) for i in range(5)))
    common = ["run", "--tasks", "longfact-objects", "--responses", str(responses), "--data-dir", str(data),
              "--results-dir", str(tmp_path)]
    assert main(common + ["--run-id", "a"] + role_args(server.base_url, model=False)) == 0
    with ScriptedServer(ScriptedState()) as other, ScriptedServer(ScriptedState()) as replica:
        urls = f"{other.base_url},{replica.base_url}"  # another host and one more replica
        assert main(common + ["--run-id", "b", "--no-cache"] + role_args(urls, model=False)) == 0
        assert other.state.requests.total() + replica.state.requests.total() > 0  # judged again, for real
    capsys.readouterr()
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "b"), "--min-pairs", "5"]) == 0
    assert "no significant regression" in capsys.readouterr().out
    # The same judge with other evidence is not comparable.
    corpus = tmp_path / "corpus.db"
    PassageStore.build(corpus, [("Object 0-1", ["Object 0-1 is in source 1."])])
    assert main(common + ["--run-id", "c", "--evidence", f"corpus:{corpus}"]
                + role_args(server.base_url, model=False, evidence=None)) == 0
    assert main(["compare", str(tmp_path / "a"), str(tmp_path / "c"), "--min-pairs", "5"]) == 3
    assert "evidence differs ('none' vs 'corpus:corpus.db?k=10')" in capsys.readouterr().err


# ------------------------------------------------------------------ 2. only parsed answers are done

def _requested_sentences(body: dict) -> list[str]:
    user = body["messages"][1]["content"]
    block = re.search(r"<sentences>\n(.*?)\n</sentences>", user, re.DOTALL).group(1)
    return [m.group(1) for m in re.finditer(r"^\[\d+\] (.*)$", block, re.MULTILINE)]


def _requested_claims(body: dict) -> list[str]:
    user = body["messages"][1]["content"]
    block = re.search(r"<claims>\n(.*?)\n</claims>", user, re.DOTALL).group(1)
    return [m.group(1) for m in re.finditer(r"^\d+\. (.*)$", block, re.MULTILINE)]


def test_malformed_and_wrong_count_judge_answers_are_retried_for_exactly_the_missing_items(tmp_path, server):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=4)
    args = _run_args(data, tmp_path, "heal", server.base_url, "--sentences-per-call", "3", "--claims-per-call", "3")
    is_ = lambda kind: lambda b: request_kind(b) == kind  # noqa: E731
    server.state.faults = [Fault("text:{this is not json", when=is_("extract")), Fault("drop_last", when=is_("extract")),
                           Fault("text:no verdicts in here", when=is_("verify")), Fault("drop_last", when=is_("verify")),
                           Fault('text:{"verdicts": [{"id": 1, "label": "maybe"}]}', when=is_("verify"))]
    assert main(args) == 1  # claims left without a label count against --fail-on-error
    run = tmp_path / "heal"
    claims, verdicts = _latest(run / "claims.jsonl"), _latest(run / "verdicts.jsonl")
    missing = {sid: [c["sentences"][i] for i in c["missing_sentences"]] for sid, c in claims.items()}
    # one malformed chunk of 3 sentences, and one whose list of claim lists is short by one: without
    # ids it cannot be aligned, so none of its 3 sentences is taken
    assert sum(map(len, missing.values())) == 3 + 3
    unlabelled = {sid: [claims[sid]["claims"][i]["text"] for i, lab in enumerate(v["labels"]) if lab is None]
                  for sid, v in verdicts.items()}
    assert sum(map(len, unlabelled.values())) >= 2 + 1 + 2  # malformed batch, one dropped, unknown word + missing
    summary = json.loads((run / "summary.json").read_text())
    assert summary["errors"]["parse"]["claims"]["unparsed"] == 6
    assert summary["errors"]["parse"]["verdicts"]["unparsed"] == sum(map(len, unlabelled.values()))
    assert summary["calls"]["extractor"]["rejected"] == 2 and summary["calls"]["verifier"]["rejected"] == 3
    # Only outputs that parsed were cached: the next resume or `score` cannot be served the garbage.
    cached = CallCache(tmp_path / "cache.sqlite").stats()["by_namespace"]
    assert cached["llm:extractor"]["entries"] == server.state.requests["extract"] - 2
    assert cached["llm:verifier"]["entries"] == server.state.requests["verify"] - 3

    server.state.faults = []  # the judge heals
    server.state.log.clear()
    before = server.state.requests.copy()
    assert main(args) == 0
    sent = server.state.requests - before
    assert sent["generate"] == 0
    expected_spans = sum(len(spans_of(c["missing_sentences"], 3)) for c in claims.values())
    assert sent["extract"] == expected_spans == 2
    asked_sentences = [s for b in server.state.log if request_kind(b) == "extract" for s in _requested_sentences(b)]
    assert sorted(asked_sentences) == sorted(s for v in missing.values() for s in v)  # exactly the missing ones
    asked_claims = [c for b in server.state.log if request_kind(b) == "verify" for c in _requested_claims(b)]
    new_claims = [s for v in missing.values() for s in v]  # the scripted extractor's claim is the sentence
    assert sorted(asked_claims) == sorted([c for v in unlabelled.values() for c in v] + new_claims)

    healed_claims, healed = _latest(run / "claims.jsonl"), _latest(run / "verdicts.jsonl")
    assert all(not c["missing_sentences"] for c in healed_claims.values())
    assert all(None not in v["labels"] and len(v["labels"]) == len(healed_claims[sid]["claims"])
               for sid, v in healed.items())
    # append-only: a completion is a new record that supersedes the partial one
    assert len(_lines(run / "claims.jsonl")) == 4 + sum(1 for c in claims.values() if c["missing_sentences"])
    summary = json.loads((run / "summary.json").read_text())
    assert summary["errors"]["parse"]["verdicts"]["unparsed"] == 0 and summary["errors"]["gate_failures"] == 0
    assert summary["overall"]["n_scored"] == 4

    requests = server.state.requests.total()
    assert main(args) == 0 and server.state.requests.total() == requests  # nothing left to do
    # A new run id, from the cache and the healed judge, gives the same numbers.
    assert main(args[:-len(role_args(server.base_url))] + ["--run-id", "again"] + role_args(server.base_url)) == 0
    again = json.loads((tmp_path / "again" / "summary.json").read_text())
    assert again["tasks"]["longfact-objects"]["metrics"]["precision"] == \
        summary["tasks"]["longfact-objects"]["metrics"]["precision"]  # healed to the clean run's numbers


def test_judge_attempts_are_bounded_across_resumes(tmp_path, server):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=1)
    server.state.faults = [Fault("text:never parses", when=lambda b: request_kind(b) == "verify", times=100)]
    args = _run_args(data, tmp_path, "b", server.base_url, "--max-judge-attempts", "2", "--fail-on-error", "1")
    for _ in range(3):
        assert main(args) == 0
    assert server.state.requests["verify"] == 2  # attempt 1, attempt 2, then it stays an error
    verdicts = _lines(tmp_path / "b" / "verdicts.jsonl")
    assert [v["attempt"] for v in verdicts] == [1, 2] and set(verdicts[-1]["labels"]) == {None}


# ------------------------------------------------------------------ 3. every answer is scored

def test_empty_whitespace_think_only_abstained_and_claimless_answers_all_have_a_reward(tmp_path, server):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=6)
    rows = {"topic0-00": "", "topic0-01": "  \n\t ", "topic0-02": "<think>Let me think about this.</think>",
            "topic0-03": "I could not find any information about object 0-3.",
            "topic0-04": "I think so.", "topic0-05": "Records from Atlantis mention object 0-5."}
    responses = tmp_path / "r.jsonl"
    responses.write_text("".join(json.dumps({"id": k, "response": v}) + "\n" for k, v in rows.items()))
    assert main(["run", "--tasks", "longfact-objects", "--responses", str(responses), "--data-dir", str(data),
                 "--results-dir", str(tmp_path), "--run-id", "e"] + role_args(server.base_url, model=False)) == 0
    scores = {s["id"]: s for s in _lines(tmp_path / "e" / "scores.jsonl")}
    assert {k: s["status"] for k, s in scores.items()} == {
        "topic0-00": "empty", "topic0-01": "empty", "topic0-02": "think_only", "topic0-03": "abstained",
        "topic0-04": "no_claims", "topic0-05": "scored"}
    for s in scores.values():  # S = 0 everywhere: F1@K and reward are the floor, 0, never missing
        assert s["reward"] == 0.0 and s["f1_at_k"] == 0.0 and not s["unscored"], s
    assert scores["topic0-05"]["precision"] == 0.0 and scores["topic0-00"]["precision"] is None
    overall = json.loads((tmp_path / "e" / "summary.json").read_text())["overall"]
    assert overall["n_scored"] == 6 and overall["metrics"]["reward"]["n"] == 6
    assert overall["answer_status"] == {"empty": 2, "think_only": 1, "judge_failed": 0, "pending": 0,
                                        "abstained": 1, "no_claims": 1, "scored": 1}
    assert overall["metrics"]["precision"]["n"] == 1  # precision stays conditional on labelled claims


# ------------------------------------------------------------------ 5. no silent downgrade

def test_missing_default_evidence_fails_unless_evidence_is_explicit(tmp_path, server, capsys):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=2)
    base = ["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(tmp_path),
            "--run-id", "ev"]
    assert main(base + role_args(server.base_url, evidence=None)) == 2
    err = capsys.readouterr().err
    assert "default evidence 'serper' is unavailable" in err and "SERPER_API_KEY" in err and "--evidence none" in err
    assert "Traceback" not in err and not (tmp_path / "ev").exists() and server.state.requests.total() == 0
    assert main(base + role_args(server.base_url, evidence="none")) == 0
    task = json.loads((tmp_path / "ev" / "summary.json").read_text())["tasks"]["longfact-objects"]
    assert task["evidence"] == "none" and task["evidence_chosen_by"] == "--evidence"
    assert task["judge"]["templates"]["verify"].startswith("verify-ternary-knowledge") and len(task["judge_sha"]) == 16


def test_run_report_prints_parse_errors_retries_and_truncated_answers(tmp_path, server, capsys):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=2)
    server.state.faults = [Fault("length:Object 0 is documented", when=lambda b: request_kind(b) == "generate"),
                           Fault("status:429", when=lambda b: request_kind(b) == "extract"),
                           Fault("text:garbage", when=lambda b: request_kind(b) == "verify")]
    assert main(_run_args(data, tmp_path, "rep", server.base_url, "--fail-on-error", "1")) == 0
    out = capsys.readouterr().out
    assert "1 cut at max tokens (finish_reason=length)" in out
    assert re.search(r"verdicts \d+/\d+ claims \(\d+\.\d%\)", out)
    assert re.search(r"extractor \d+ \(1 retries, 1 rate-limited\)", out)


# ------------------------------------------------------------------ 6. accounting across resumes

def test_summary_accounting_after_two_invocations_is_their_sum(tmp_path, server):
    data = write_longfact_fixture(tmp_path / "data")
    server.state.faults = [Fault("status:500", when=lambda b: request_kind(b) == "verify", times=1000)]
    args = _run_args(data, tmp_path, "acc", server.base_url, "--max-retries", "0", "--fail-on-error", "0")
    assert main(args) == 1
    server.state.faults = []
    assert main(args) == 0
    run = tmp_path / "acc"
    first, second = _lines(run / "invocations.jsonl")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["invocations"] == 2
    for role, stats in summary["calls"].items():
        for key in ("calls", "cache_hits", "prompt_tokens", "completion_tokens"):
            assert stats[key] == first["calls"][role][key] + second["calls"][role][key], (role, key)
    assert summary["calls"]["verifier"]["errors"] == {"server_error": 6}  # from the first invocation
    assert summary["last_invocation"]["calls"] == second["calls"]
    assert summary["wall_seconds"] == pytest.approx(first["wall_seconds"] + second["wall_seconds"], abs=1e-3)
    # Every token the server saw is counted once, over both invocations.
    assert sum(s["prompt_tokens"] for s in summary["calls"].values()) == server.state.input_tokens
    # errors.jsonl: six failures, then six resolution lines; the summary counts only unresolved ones.
    errors = _lines(run / "errors.jsonl")
    assert [e["resolved"] for e in errors] == [False] * 6 + [True] * 6
    assert summary["errors"]["stage_failures"] == {} and summary["errors"]["failed_samples"] == 0
    # Per answer: tokens of every record of it, failures and superseded attempts included.
    scores = _lines(run / "scores.jsonl")
    assert sum(s["usage"]["verifier"]["prompt_tokens"] for s in scores) == summary["calls"]["verifier"]["prompt_tokens"]
    # A no-op third invocation keeps the totals.
    assert main(args) == 0
    third = json.loads((run / "summary.json").read_text())
    assert third["calls"]["verifier"]["calls"] == summary["calls"]["verifier"]["calls"]
    assert third["last_invocation"]["calls"]["verifier"]["calls"] == 0 and third["invocations"] == 3


def test_max_cost_stops_cleanly_and_a_resume_finishes(tmp_path, server, capsys):
    data = write_longfact_fixture(tmp_path / "data", n_topics=2, per_topic=4)
    prices = ["--price-per-1k-input", "1", "--price-per-1k-output", "judge=2,model=1", "--parallel", "1"]
    assert main(_run_args(data, tmp_path, "unpriced", server.base_url, "--max-cost", "0.01")) == 2
    assert "--max-cost needs a price for every role" in capsys.readouterr().err
    assert main(_run_args(data, tmp_path, "cost", server.base_url, "--max-cost", "0.5", *prices)) == 4
    err = capsys.readouterr().err
    assert "stopped at --max-cost 0.5" in err and "--run-id cost" in err
    run = tmp_path / "cost"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["budget"]["stopped_at_max_cost"] and 0.5 <= summary["cost_usd"] < 1.5
    assert summary["overall"]["n_scored"] < 8 and json.loads((run / "run.json").read_text())["finished_at"] is None
    assert summary["overall"]["answer_status"]["judge_failed"] == 0  # stopped, not failed: `pending`
    first_requests = server.state.requests.total()
    assert main(_run_args(data, tmp_path, "cost", server.base_url, *prices)) == 0  # no limit this time
    summary = json.loads((run / "summary.json").read_text())
    assert summary["overall"]["n_scored"] == 8 and not summary["budget"]["stopped_at_max_cost"]
    # Dollars: $1 per 1k input tokens for every role, $2 (judges) or $1 (model) per 1k output tokens.
    calls = summary["calls"]
    expected = sum(s["prompt_tokens"] / 1000 + s["completion_tokens"] / 1000 * (1 if r == "model" else 2)
                   for r, s in calls.items())
    assert summary["cost_usd"] == pytest.approx(expected)
    per_answer = sum(u["cost_usd"] for s in _lines(run / "scores.jsonl") for u in s["usage"].values())
    assert per_answer == pytest.approx(expected)
    # The resume did only the rest: no call was made twice (a repeat would be a cache hit).
    assert summary["last_invocation"]["cache"]["hits"] == 0
    assert server.state.requests.total() == sum(s["calls"] for s in calls.values()) > first_requests


def test_a_run_directory_from_before_the_accounting_is_imported_and_reconciled(tmp_path, server):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=2)
    args = _run_args(data, tmp_path, "old", server.base_url)
    assert main(args) == 0
    run = tmp_path / "old"
    calls_before = json.loads((run / "summary.json").read_text())["calls"]
    # As the previous version left it: no invocations.jsonl, a failure a later attempt fixed
    # without saying so.
    (run / "invocations.jsonl").unlink()
    (run / "calls.jsonl").unlink()
    (run / "errors.jsonl").write_text(json.dumps({"task": "longfact-objects", "id": "topic0-00", "stage": "verdicts",
                                                  "kind": "timeout", "detail": "x"}) + "\n")
    assert main(args) == 0
    imported, resumed = _lines(run / "invocations.jsonl")
    assert imported["imported"] and imported["calls"] == calls_before
    summary = json.loads((run / "summary.json").read_text())
    assert summary["calls"]["verifier"]["calls"] == calls_before["verifier"]["calls"]  # the no-op resume adds 0
    assert [e.get("resolved", False) for e in _lines(run / "errors.jsonl")] == [False, True]
    assert summary["errors"]["failed_samples"] == 0
