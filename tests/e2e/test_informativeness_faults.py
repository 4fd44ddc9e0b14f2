"""Weighting answers that do not parse are never scored: retried on resume, or the answer is unscored.

The judge gives malformed informativeness answers (30%) and answers that leave a claim out (5%);
the run is then resumed twice against the healed judge with the same run id and cache.
"""

from __future__ import annotations

import json
from pathlib import Path

from conftest import role_args, write_longfact_fixture

from factbench.cli.main import main
from factbench.testing.informativeness_faults import faulty_informativeness
from factbench.testing.scripted_server import ScriptedServer, ScriptedState


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def _latest(path: Path) -> dict[str, dict]:
    return {f"{r['task']}/{r['id']}": r for r in _lines(path)}


def _unclassified(run: Path) -> int:
    claims = _latest(run / "claims.jsonl")
    informativeness = _latest(run / "informativeness.jsonl")
    missing = 0
    for key, rec in claims.items():
        classes = informativeness.get(key, {}).get("classes", [])
        missing += sum(1 for i in range(len(rec["claims"])) if i >= len(classes) or classes[i] is None)
    return missing


def _partial(run: Path) -> list[dict]:
    """Answers with a reward although part of their judgement is missing."""
    return [r for r in _lines(run / "scores.jsonl")
            if r["reward"] is not None and (r["informativeness_errors"] or r["judge_errors"] or r["incomplete"])]


def test_informativeness_failures_are_retried_on_resume_and_never_scored(tmp_path):
    state = ScriptedState(answer_sentences=12, keep_log=False, responder=faulty_informativeness(0.30, 0.05))
    data = write_longfact_fixture(tmp_path / "data", n_topics=3, per_topic=10)
    with ScriptedServer(state) as srv:
        args = ["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(tmp_path),
                "--run-id", "w", "--cache", str(tmp_path / "c.sqlite"), "--claims-per-call", "4"] \
            + role_args(srv.base_url)
        assert main(args) == 1  # unscored answers count against --fail-on-error
        run = tmp_path / "w"
        first = _lines(run / "scores.jsonl")
        assert len(first) == 30
        broken = [r for r in first if r["informativeness_errors"]]
        assert len(broken) >= 5, "the fault rates should break several answers"
        # an informativeness answer that did not parse leaves its answer unscored: never 0, never a partial reward
        assert all(r["reward"] is None and r["unscored"] and r["incomplete"] for r in broken)
        assert _unclassified(run) > 0
        assert _partial(run) == []

        state.responder = None  # the judge is healed
        for _ in range(2):
            assert main(args) == 0
        assert _unclassified(run) == 0
        assert _partial(run) == []
        scores = _lines(run / "scores.jsonl")
        assert len(scores) == 30 and all(r["reward"] is not None for r in scores)
        informativeness = _latest(run / "informativeness.jsonl")
        # only the claims without a class were asked again: every retried record is a later attempt
        assert max(r["attempt"] for r in informativeness.values()) >= 2
        summary = json.loads((run / "summary.json").read_text())
        assert summary["overall"]["n_unscored"] == 0 and summary["overall"]["informativeness_errors"] == 0
