"""Stopping evaluate() from Python: an interrupted notebook cell, a cancelled evaluate_async task.

The notebook is a child process shaped like a Jupyter kernel: the cell runs inside an event loop
on the main thread (so evaluate() hands the run to a worker thread), and the interrupt is a real
SIGINT, which Python turns into KeyboardInterrupt in the main thread, as the kernel does.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import default_sigint, write_longfact_fixture

import factbench
from factbench.store.run_dir import RunLocked
from factbench.testing.scripted_server import Fault, request_kind

STOP_WITHIN_S = 2.0



def _options(url: str, data: Path, results: Path, run_id: str) -> dict:
    return dict(model="openai/test-model", model_base_url=url, judge="openai/judge", judge_base_url=url,
                data_dir=str(data), results_dir=str(results), run_id=run_id, evidence="none", progress=False,
                model_concurrency=2, judge_concurrency=2)


def _count(path: Path) -> int:
    return sum(1 for x in path.read_text().splitlines() if x.strip()) if path.exists() else 0


def test_an_interrupted_notebook_cell_stops_the_run_and_a_rerun_resumes_it(tmp_path, server):
    data = write_longfact_fixture(tmp_path / "data", n_topics=4, per_topic=10)
    results = tmp_path / "res"
    server.state.keep_log = False
    server.state.faults = [Fault("sleep:0.2", when=lambda b: request_kind(b) == "generate", times=10**6)]
    proc = subprocess.Popen([sys.executable, "-m", "factbench.testing.notebook_cell",
                             json.dumps(_options(server.base_url, data, results, "nb"))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
    try:
        deadline = time.monotonic() + 60
        while _count(results / "nb" / "answers.jsonl") < 3 and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            time.sleep(0.05)
        sent = time.time()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-2000:]
    lines = [json.loads(x) for x in out.splitlines() if x.startswith("{")]
    running, stopped, resumed = lines
    assert stopped["stopped_at"] - sent < STOP_WITHIN_S
    assert stopped["worker_alive"] == []
    assert stopped["answers"] < 40 and stopped["answers_1s_later"] == stopped["answers"]  # nothing goes on
    assert resumed == {"resumed": 40, "invocations": 2}
    errors = [json.loads(x) for x in (results / "nb" / "errors.jsonl").read_text().splitlines() if x.strip()]
    assert errors == []  # the stop is no sample's failure


def test_cancelling_evaluate_async_stops_the_run(tmp_path, server):
    data = write_longfact_fixture(tmp_path / "data", n_topics=4, per_topic=10)
    results = tmp_path / "res"
    server.state.keep_log = False
    server.state.faults = [Fault("sleep:0.2", times=10**6)]
    options = _options(server.base_url, data, results, "task")

    async def main() -> tuple[float, int, int]:
        job = asyncio.ensure_future(factbench.evaluate_async("longfact-objects", **options))
        while _count(results / "task" / "answers.jsonl") < 3:
            assert not job.done()
            await asyncio.sleep(0.05)
        started = time.monotonic()
        job.cancel()
        with pytest.raises(asyncio.CancelledError):
            await job
        took = time.monotonic() - started
        n = _count(results / "task" / "answers.jsonl")
        await asyncio.sleep(1.0)
        return took, n, _count(results / "task" / "answers.jsonl")

    took, n, later = asyncio.run(main())
    assert took < STOP_WITHIN_S
    assert n < 40 and later == n
    server.state.faults = []
    result = factbench.evaluate("longfact-objects", **options)  # resumes, the lock was released
    assert result.summary.overall.n_answers == 40 and result.summary.invocations == 2


def test_a_second_run_of_a_busy_directory_in_the_same_process_says_what_holds_it(tmp_path, server):
    data = write_longfact_fixture(tmp_path / "data", n_topics=2, per_topic=5)
    server.state.faults = [Fault("sleep:0.3", times=10**6)]
    options = _options(server.base_url, data, tmp_path / "res", "busy")
    first = threading.Thread(target=lambda: _quietly(options), name="first-cell")
    first.start()
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "res" / "busy" / "run.json").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        with pytest.raises(RunLocked, match="in use by this process \\(thread 'first-cell'"):
            factbench.evaluate("longfact-objects", **options)
    finally:
        first.join(120)


def _quietly(options: dict) -> None:
    factbench.evaluate("longfact-objects", **options)
