"""A run and the Scorer execute one pipeline: on the same 30 answers they give the same claims,
labels, claim weights, statuses and masking, including answers whose informativeness call failed and
answers whose informativeness left a claim without a class (both: no reward, never a partial one)."""

from __future__ import annotations

import json
import re

from conftest import role_args, write_longfact_fixture

from factbench import Scorer
from factbench.cli.main import main
from factbench.testing.scripted_server import Fault, request_kind, system_and_user

_QUESTION = re.compile(r"<question>\n(.*?)\n</question>", re.DOTALL)


def _informativeness_of(pattern: str):
    """A predicate: an informativeness call about a question matching `pattern`."""
    def when(body: dict) -> bool:
        m = _QUESTION.search(system_and_user(body)[1])
        return request_kind(body) == "informativeness" and bool(m and re.search(pattern, m.group(1)))
    return when


def _lines(path) -> dict[str, dict]:
    return {r["id"]: r for r in map(json.loads, path.read_text().splitlines())}


def test_run_and_scorer_agree_on_30_answers_with_informativeness_failures(server, tmp_path):
    data = write_longfact_fixture(tmp_path / "data", n_topics=3, per_topic=10)
    server.state.faults = [
        Fault("status:500", when=_informativeness_of(r"object 1-[37]\b"), times=10_000),  # the call fails
        Fault('text:{"trivial": [1], "off_topic": [1], "restates": []}',  # claim 1 in two classes: no class
              when=_informativeness_of(r"object 2-[15]\b"), times=10_000),
    ]
    assert main(["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(tmp_path),
                 "--run-id", "p", "--no-relevance", "--max-retries", "0", "--fail-on-error", "100"]
                + role_args(server.base_url)) == 0
    run = tmp_path / "p"
    answers, claims = _lines(run / "answers.jsonl"), _lines(run / "claims.jsonl")
    verdicts, informativeness, scores = _lines(run / "verdicts.jsonl"), _lines(run / "informativeness.jsonl"), _lines(run / "scores.jsonl")
    assert len(answers) == 30
    ids = sorted(answers)
    with Scorer(judge="openai/judge", judge_base_url=server.base_url, use_cache=False, max_retries=0,
                reward_relevance="none") as scorer:
        results = scorer.score_sync([answers[i]["prompt"] for i in ids], [answers[i]["answer"] for i in ids])
    masked = set()
    for sid, result in zip(ids, results):
        row = scores[sid]
        assert [c.text for c in result.claims] == [c["text"] for c in claims[sid]["claims"]], sid
        assert result.masked == row["unscored"], sid  # one behaviour: no reward in either
        if result.masked:
            masked.add(sid)
            assert row["reward"] is None and result.reward is None
            continue
        assert result.status == row["status"], sid
        assert [c.label for c in result.claims] == verdicts[sid]["labels"], sid
        assert [c.informativeness for c in result.claims] == informativeness[sid]["classes"], sid
        assert result.precision == row["precision"] and result.weighted_precision == row["weighted_precision"]
    assert masked == {"topic1-03", "topic1-07", "topic2-01", "topic2-05"}
    by_id = dict(zip(ids, results))
    assert by_id["topic1-03"].errors == ["informativeness:server_error"]  # the informativeness call failed
    assert "informativeness:conflicting_class" in by_id["topic2-01"].errors  # a claim left without a class
    assert sum(1 for sid in ids if scores[sid]["status"] == "scored" and not scores[sid]["unscored"]) == 26
