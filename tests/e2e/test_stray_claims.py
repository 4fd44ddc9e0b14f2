"""Claims the answer does not contain are dropped before verification, through the CLI.

The extractor double follows the ground truth, except that in 30% of its answers it adds a
claim of the extraction prompt's own example to the first sentence, as a small judge model
copying its prompt does. None of those claims may reach evidence or verification; each is
counted per answer (`ungrounded`) and in the summary, and listed in the viewer's data.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from factbench.reports.run_data import load_run_data
from factbench.reports.viewer import viewer_data
from factbench.testing.ground_truth import GroundTruthResponder
from factbench.testing.scripted_server import ScriptedServer, ScriptedState

STRAY = "The Mariana Trench is in the western Pacific Ocean."
N_ANSWERS = 30


class StrayClaimExtractor(GroundTruthResponder):
    """The ground-truth double, with a stray claim in 30% of extraction answers (chosen by content)."""

    def __init__(self) -> None:
        super().__init__()
        self.strays = 0

    def __call__(self, body: dict[str, Any], kind: str) -> str:
        text = super().__call__(body, kind)
        user = body["messages"][-1]["content"]
        if kind == "extract" and int(hashlib.sha256(user.encode()).hexdigest(), 16) % 10 < 3:
            out = json.loads(text)
            out["sentences"][0]["claims"].append(STRAY)
            self.strays += 1
            return json.dumps(out)
        return text


def test_stray_claims_are_dropped_and_counted(tmp_path: Path):
    responder = StrayClaimExtractor()
    env = {**os.environ, "FACTBENCH_CACHE": str(tmp_path / "cache.sqlite")}
    with ScriptedServer(ScriptedState(responder=responder, keep_log=False)) as server:
        url = server.base_url
        proc = subprocess.run(
            [sys.executable, "-m", "factbench", "run", "--tasks", "groundtruth", "--limit", str(N_ANSWERS),
             "--model", "openai/gt", "--model-base-url", url, "--judge", "openai/gt", "--judge-base-url", url,
             "--no-relevance", "--sentences-per-call", "25", "--run-id", "g", "--no-progress"],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    run = tmp_path / "results" / "g"
    assert 5 <= responder.strays <= 15 and responder.requests["extract"] == N_ANSWERS
    claims = [json.loads(x) for x in (run / "claims.jsonl").read_text().splitlines()]
    # Kept claims: none is the stray one; it is recorded as ungrounded exactly where it was added.
    assert not any(c["text"] == STRAY for r in claims for c in r["claims"])
    dropped = [c["text"] for r in claims for c in r["ungrounded"]]
    assert dropped == [STRAY] * responder.strays
    # No stray claim was verified: every verdict belongs to a kept claim of the answer.
    verdicts = {(v["task"], v["id"]): v for v in map(json.loads, (run / "verdicts.jsonl").read_text().splitlines())}
    assert all(len(verdicts[(r["task"], r["id"])]["labels"]) == len(r["claims"]) for r in claims)
    # The ground-truth answers' own claims are all kept: one per sentence.
    assert sum(len(r["claims"]) for r in claims) == sum(len(r["sentences"]) for r in claims)
    scores = [json.loads(x) for x in (run / "scores.jsonl").read_text().splitlines()]
    assert sum(s["ungrounded"] for s in scores) == responder.strays
    summary = json.loads((run / "summary.json").read_text())
    assert summary["overall"]["ungrounded_claims"] == responder.strays
    assert summary["tasks"]["groundtruth"]["ungrounded_claims"] == responder.strays
    # The viewer lists each answer's dropped claims.
    _, chunks = viewer_data(load_run_data(run))
    assert sum(len(d["ungrounded"]) for chunk in chunks for d in chunk) == responder.strays
