"""A run killed with SIGKILL at random points and resumed gives exactly the uninterrupted result."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import role_args, write_longfact_fixture

from factbench.cli.main import main
from factbench.store.run_dir import RunLocked, RunStore
from factbench.testing.scripted_server import Fault

PARALLEL = 4


def _args(data: Path, results: Path, run_id: str, cache: Path, url: str) -> list[str]:
    return ["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(results),
            "--run-id", run_id, "--cache", str(cache), "--parallel", str(PARALLEL)] + role_args(url)


def _keys(path: Path) -> list[str]:
    if not path.exists():
        return []
    return [f"{r['task']}/{r['id']}" for r in (json.loads(x) for x in path.read_text().splitlines() if x.strip())]


def _trials(tmp_path: Path, server, n_trials: int, topics: int, per_topic: int) -> None:
    data = write_longfact_fixture(tmp_path / "data", n_topics=topics, per_topic=per_topic)
    n = topics * per_topic
    server.state.keep_log = False
    server.state.faults = [Fault("sleep:0.01", times=10**9)]
    assert main(_args(data, tmp_path / "base", "base", tmp_path / "base.sqlite", server.base_url)) == 0
    baseline = json.loads((tmp_path / "base" / "base" / "summary.json").read_text())
    n0 = server.state.requests.total()
    rng = random.Random(7)
    for trial in range(n_trials):
        run_id, cache = f"t{trial}", tmp_path / f"t{trial}.sqlite"
        before = server.state.requests.total()
        proc = subprocess.Popen([sys.executable, "-m", "factbench"] + _args(data, tmp_path, run_id, cache, server.base_url),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ})
        deadline = time.monotonic() + 60
        target = rng.randint(1, n - 1)  # kill after a random number of finished verdicts
        while time.monotonic() < deadline and len(_keys(tmp_path / run_id / "verdicts.jsonl")) < target:
            if proc.poll() is not None:
                break
            time.sleep(0.01)
        time.sleep(rng.random() * 0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert main(_args(data, tmp_path, run_id, cache, server.base_url)) == 0
        summary = json.loads((tmp_path / run_id / "summary.json").read_text())
        assert summary["tasks"] == baseline["tasks"], f"trial {trial}: metrics differ after resume"
        for stage in ("answers", "claims", "evidence", "verdicts"):
            keys = _keys(tmp_path / run_id / f"{stage}.jsonl")
            assert len(keys) == len(set(keys)) == n, f"trial {trial}: {stage} lost or duplicated records"
        # Completed calls are not repeated: at most the calls in flight at the kill are sent twice.
        assert server.state.requests.total() - before <= n0 + PARALLEL


def test_sigkill_and_resume_default_tier(tmp_path, server):
    _trials(tmp_path, server, n_trials=3, topics=4, per_topic=6)


@pytest.mark.slow
def test_sigkill_and_resume_many_trials(tmp_path, server):
    _trials(tmp_path, server, n_trials=20, topics=10, per_topic=20)


def test_second_open_of_a_busy_run_is_refused(tmp_path):
    first = RunStore(tmp_path / "r").open()
    try:
        with pytest.raises(RunLocked, match="in use by this process \\(thread 'MainThread'"):
            RunStore(tmp_path / "r").open()
    finally:
        first.close()
    RunStore(tmp_path / "r").open().close()  # free again once the first one is closed


def test_torn_last_line_is_dropped_on_reopen(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    good = '{"task":"t","id":"a","stage":"answers","kind":"x","detail":"d"}\n'
    (run / "errors.jsonl").write_text(good + '{"task":"t","id":"b","sta')
    with RunStore(run) as store:
        assert [r.id for r in store.iter_records("errors")] == ["a"]
    assert (run / "errors.jsonl").read_text() == good


def test_second_cli_run_on_a_busy_run_directory_is_refused(tmp_path, server, capsys):
    data = write_longfact_fixture(tmp_path / "data", n_topics=2, per_topic=5)
    server.state.faults = [Fault("sleep:0.3", times=10**6)]
    args = _args(data, tmp_path, "busy", tmp_path / "c.sqlite", server.base_url)
    proc = subprocess.Popen([sys.executable, "-m", "factbench"] + args,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "busy" / "run.json").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert main(args) == 2
        assert "in use by another factbench process" in capsys.readouterr().err
    finally:
        proc.kill()
        proc.wait()
