"""Spend is counted as calls complete: killed invocations are in the totals and in --max-cost."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import role_args, write_longfact_fixture

from factbench.cli.main import main
from factbench.testing.scripted_server import Fault

CONCURRENCY = 2  # per role: at most 5 roles x 2 requests are in flight when a process is killed
ROLES = 5


def _args(data: Path, results: Path, url: str, *extra: str) -> list[str]:
    return ["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(results),
            "--run-id", "k", "--cache", str(results / "c.sqlite"), "--model-concurrency", str(CONCURRENCY),
            "--judge-concurrency", str(CONCURRENCY), "--price-per-1k-input", "1", "--price-per-1k-output", "2",
            *extra] + role_args(url)


def _count(path: Path) -> int:
    return sum(1 for x in path.read_text().splitlines() if x.strip()) if path.exists() else 0


def _kill_after(args: list[str], path: Path, n: int) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "factbench"] + args, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while _count(path) < n and time.monotonic() < deadline:
            assert proc.poll() is None, "the run ended before it could be killed"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()


def _fresh_calls(calls: dict) -> int:
    return sum(s["calls"] - s["cache_hits"] for s in calls.values())


def test_killed_invocations_are_accounted(tmp_path, server):
    data = write_longfact_fixture(tmp_path / "data", n_topics=4, per_topic=8)
    results = tmp_path / "res"
    server.state.keep_log = False
    server.state.faults = [Fault("sleep:0.05", times=10**9)]
    args = _args(data, results, server.base_url)
    _kill_after(args, results / "k" / "verdicts.jsonl", 6)
    _kill_after(args, results / "k" / "verdicts.jsonl", 16)
    assert main(args) == 0
    summary = json.loads((results / "k" / "summary.json").read_text())
    assert summary["invocations"] == 3
    invocations = [json.loads(x) for x in (results / "k" / "invocations.jsonl").read_text().splitlines()]
    assert len(invocations) == 1  # the two killed ones never wrote theirs: their journals stand in
    served = server.state.requests.total()
    accounted = _fresh_calls(summary["calls"])
    # every call that completed is counted; only those in flight at each kill may be missing
    assert served - 2 * CONCURRENCY * ROLES <= accounted <= served
    assert summary["calls"]["verifier"]["prompt_tokens"] > 0
    assert summary["cost_usd"] > 0


def test_max_cost_counts_what_killed_invocations_spent(tmp_path, server):
    data = write_longfact_fixture(tmp_path / "data", n_topics=4, per_topic=8)
    results = tmp_path / "res"
    server.state.keep_log = False
    server.state.faults = [Fault("sleep:0.05", times=10**9)]
    _kill_after(_args(data, results, server.base_url), results / "k" / "verdicts.jsonl", 6)
    served = server.state.requests.total()
    # the killed invocation already spent more than this: the resume starts no new stage
    assert main(_args(data, results, server.base_url, "--max-cost", "0.001")) == 4
    assert server.state.requests.total() == served
    summary = json.loads((results / "k" / "summary.json").read_text())
    assert summary["cost_usd"] > 0.001 and summary["budget"]["stopped_at_max_cost"]
