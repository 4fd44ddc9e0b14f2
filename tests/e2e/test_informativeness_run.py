"""Claim informativeness in `factbench run`, and one reward scale with and without relevance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import role_args, write_longfact_fixture

from factbench.cli.main import main
from factbench.testing.ground_truth import GroundTruthResponder
from factbench.testing.scripted_server import Fault, ScriptedServer, ScriptedState, request_kind


def _summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_informativeness_are_a_stage_with_a_versioned_template(tmp_path, server):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=3)
    base = ["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(tmp_path)]
    assert main(base + ["--run-id", "w"] + role_args(server.base_url)) == 0
    summary = _summary(tmp_path / "w")
    # knowledge-only evidence: the classification rides on the knowledge verification template
    assert summary["judges"]["templates"]["informativeness-knowledge"].startswith("informativeness-knowledge-v5+")
    assert summary["tasks"]["longfact-objects"]["judge"]["templates"]["informativeness"].startswith("informativeness-")
    assert summary["judges"]["informativeness"]["model"] == "openai/judge"
    assert summary["reward"]["design"] == "merged"  # the default design
    m = summary["overall"]["metrics"]
    # the plain scripted judge calls every claim informative: informativeness changes nothing
    assert m["weighted_precision"]["mean"] == pytest.approx(m["precision"]["mean"])
    assert len(_lines(tmp_path / "w" / "informativeness.jsonl")) == 3

    assert main(base + ["--run-id", "nw", "--no-informativeness"] + role_args(server.base_url)) == 0
    summary = _summary(tmp_path / "nw")
    assert summary["reward"]["design"] == "plain"
    assert not any(k.startswith("informativeness") for k in summary["judges"]["templates"])
    assert any("informativeness is off" in note for note in summary["notes"])
    assert _lines(tmp_path / "nw" / "informativeness.jsonl") == []


def test_classification_calls_share_the_verification_prompt_up_to_the_claims(tmp_path):
    """One answer's classification call repeats its verification call's prompt (instructions,
    evidence, question, claims) and differs only after the claims: one prefix for a cache."""
    with ScriptedServer(ScriptedState()) as srv:
        data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=2)
        assert main(["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(tmp_path),
                     "--run-id", "s", "--no-relevance"] + role_args(srv.base_url)) == 0
        log = srv.state.log
    verify = [b for b in log if request_kind(b) == "verify"]
    classify = [b for b in log if request_kind(b) == "informativeness"]
    assert len(verify) == len(classify) == 2

    def shared(body: dict) -> tuple[str, str]:
        system, user = (m["content"] for m in body["messages"])
        return system, user[:user.index("</claims>")]

    assert {shared(b) for b in verify} == {shared(b) for b in classify}
    assert all(b["messages"][1]["content"].endswith("as JSON.") for b in verify + classify)
    assert all(set(b["response_format"]["json_schema"]["schema"]["properties"]) == {"t", "r", "o"} for b in classify)


def test_unparseable_informativeness_are_errors_never_classes(tmp_path):
    state = ScriptedState(faults=[Fault("text:no classes here", when=lambda b: request_kind(b) == "informativeness")])
    with ScriptedServer(state) as srv:
        data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=2)
        # Answers whose claims were left without a class have no reward: they count against --fail-on-error.
        assert main(["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(tmp_path),
                     "--run-id", "f"] + role_args(srv.base_url)) == 1
    summary = _summary(tmp_path / "f")
    assert summary["overall"]["n_unscored"] == 1
    assert summary["errors"]["informativeness_parse_errors"]["invalid_json"] > 0
    assert summary["overall"]["informativeness_errors"] > 0
    broken = [r for r in _lines(tmp_path / "f" / "informativeness.jsonl") if "invalid_json" in r["errors"]]
    assert broken and all(c is None for c in broken[0]["classes"])
    scores = {r["id"]: r for r in _lines(tmp_path / "f" / "scores.jsonl")}
    assert all(scores[r["id"]]["unscored"] and scores[r["id"]]["reward"] is None for r in broken)  # never partial


def test_reward_is_on_one_scale_with_and_without_relevance(tmp_path):
    with ScriptedServer(ScriptedState(responder=GroundTruthResponder())) as srv:
        url = srv.base_url
        base = ["run", "--tasks", "groundtruth", "--limit", "4", "--model", "openai/gt", "--model-base-url", url,
                "--judge", "openai/gt", "--judge-base-url", url, "--results-dir", str(tmp_path), "--no-progress"]
        for mu in ("0", "1"):
            assert main(base + ["--run-id", f"rel{mu}", "--reward-mu", mu]) == 0
            assert main(base + ["--run-id", f"norel{mu}", "--reward-mu", mu, "--no-relevance"]) == 0
    for mu in ("0", "1"):
        with_rel = {r["id"]: r for r in _lines(tmp_path / f"rel{mu}" / "scores.jsonl")}
        without = {r["id"]: r for r in _lines(tmp_path / f"norel{mu}" / "scores.jsonl")}
        assert all(r["relevance"] == 0.5 for r in with_rel.values())  # each answer ties its reference
        assert all(r["relevance"] is None for r in without.values())
        # a tie and an unmeasured relevance give the same reward: one scale
        assert {k: r["reward"] for k, r in with_rel.items()} == pytest.approx({k: r["reward"] for k, r in without.items()})
