"""Ctrl-C and SIGTERM stop a real `factbench run` child at once, record nothing false, and resume.

The run is kept busy (slow answers, far more samples in flight than the endpoints admit, so
that many requests wait in the endpoint pool when the signal lands: the state in which a
cancelled wait used to raise "Lock is not acquired" and be recorded as a sample error).
Run under any interpreter: `.ci/run` also runs this file under Python 3.10 and 3.12.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import role_args, write_longfact_fixture

from factbench.testing.scripted_server import Fault

STOP_WITHIN_S = 2.0


def _args(data: Path, results: Path, url: str) -> list[str]:
    return ["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(results),
            "--run-id", "sig", "--cache", str(results / "cache.sqlite"), "--parallel", "64",
            "--model-concurrency", "2", "--judge-concurrency", "2"] + role_args(url)


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_stops_the_run_at_once_and_it_resumes(tmp_path, server, signum, code):
    data = write_longfact_fixture(tmp_path / "data", n_topics=4, per_topic=10)
    results = tmp_path / "res"
    server.state.keep_log = False
    server.state.faults = [Fault("sleep:0.4", times=10**6)]
    proc = subprocess.Popen([sys.executable, "-m", "factbench"] + _args(data, results, server.base_url),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ})
    try:
        deadline = time.monotonic() + 60
        while len(_lines(results / "sig" / "answers.jsonl")) < 2 and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
            time.sleep(0.05)
        time.sleep(0.5)  # requests in flight and waiting in the pool
        sent = time.monotonic()
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = err.decode()
    assert proc.returncode == code, stderr[-2000:]
    assert took < STOP_WITHIN_S, f"took {took:.2f}s to stop"
    assert "re-run with --run-id sig to resume" in stderr
    assert "Traceback" not in stderr
    errors = _lines(results / "sig" / "errors.jsonl")
    assert not [e for e in errors if e["kind"] == "internal" or "Cancel" in e["detail"] or "Lock" in e["detail"]]
    # Nothing failed for real, so nothing at all is recorded as an error.
    assert errors == []
    server.state.faults = []
    resumed = subprocess.run([sys.executable, "-m", "factbench"] + _args(data, results, server.base_url),
                             capture_output=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    for stage in ("answers", "claims", "evidence", "verdicts"):
        keys = [r["id"] for r in _lines(results / "sig" / f"{stage}.jsonl")]
        assert len(keys) == len(set(keys)) == 40, stage
