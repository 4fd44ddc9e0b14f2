"""A judge server killed mid-run: the circuit breaker stops the run in seconds, and it resumes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import write_longfact_fixture

from factbench.serving.judge_server import free_port, wait_ready

STOP_WITHIN_S = 15.0


def _judge(port: int) -> subprocess.Popen:
    """The scripted judge as its own process, slow enough that the run is mid-way when it is killed."""
    proc = subprocess.Popen([sys.executable, "-m", "factbench.testing.scripted_server", "--port", str(port),
                             "--decode-tokens-per-s", "100"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(f"http://127.0.0.1:{port}/v1", proc, timeout_s=30, interval_s=0.1)
    return proc


def _args(data: Path, results: Path, model_url: str, judge_url: str) -> list[str]:
    return ["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(results),
            "--run-id", "dead", "--cache", str(results / "cache.sqlite"), "--no-progress", "--evidence", "none",
            "--model", "openai/m", "--model-base-url", model_url,
            "--judge", "openai/j", "--judge-base-url", judge_url, "--judge-concurrency", "4"]


def _count(path: Path) -> int:
    return sum(1 for x in path.read_text().splitlines() if x.strip()) if path.exists() else 0


def test_killed_judge_stops_the_run_with_one_line_naming_it(tmp_path, server):
    data = write_longfact_fixture(tmp_path / "data", n_topics=4, per_topic=15)
    results = tmp_path / "res"
    port = free_port()
    judge_url = f"http://127.0.0.1:{port}/v1"
    judge = _judge(port)
    run = subprocess.Popen([sys.executable, "-m", "factbench"] + _args(data, results, server.base_url, judge_url),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ})
    try:
        deadline = time.monotonic() + 90
        while _count(results / "dead" / "verdicts.jsonl") < 3 and time.monotonic() < deadline:
            assert run.poll() is None, run.communicate()[1].decode()[-2000:]
            time.sleep(0.05)
        killed = time.monotonic()
        judge.send_signal(signal.SIGKILL)
        judge.wait()
        _, err = run.communicate(timeout=60)
        took = time.monotonic() - killed
    finally:
        for proc in (run, judge):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    stderr = err.decode()
    assert run.returncode == 1, stderr[-2000:]
    assert took < STOP_WITHIN_S, f"the run went on for {took:.1f}s after the judge died"
    cause = [line for line in stderr.splitlines() if line.startswith("factbench: error:")]
    assert len(cause) == 1 and judge_url in cause[0] and "unreachable" in cause[0], stderr[-2000:]
    assert "re-run with --run-id dead to resume" in cause[0]
    assert "Traceback" not in stderr, stderr
    # The samples still to do were not each retried against the dead judge and recorded as failed.
    assert _count(results / "dead" / "errors.jsonl") <= 8
    assert _count(results / "dead" / "verdicts.jsonl") < 60

    judge = _judge(port)  # the judge is back: the same command finishes the run
    try:
        resumed = subprocess.run([sys.executable, "-m", "factbench"] + _args(data, results, server.base_url, judge_url),
                                 capture_output=True, timeout=180)
    finally:
        judge.kill()
        judge.wait()
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    ids = [json.loads(x)["id"] for x in (results / "dead" / "verdicts.jsonl").read_text().splitlines() if x.strip()]
    assert len(ids) == len(set(ids)) == 60
