"""`eval-set --executor ray` on a real local Ray cluster this test starts: a head and a worker node
on loopback, one CPU each. Slow tier: starting Ray takes tens of seconds."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from test_evalset import RUNS, _manifest, _rows

from factbench.cli.main import main
from factbench.serving.judge_server import free_port
from factbench.testing.scripted_server import Fault

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'factbench[ray]')")
RAY = str(Path(sys.executable).with_name("ray"))


def _node(temp_dir: str, *args: str) -> subprocess.Popen:
    """One Ray node in its own session (so the test can end exactly what it started)."""
    ports = ["--node-manager-port", str(free_port()), "--object-manager-port", str(free_port()),
             "--metrics-export-port", str(free_port()), "--dashboard-agent-grpc-port", str(free_port()),
             "--dashboard-agent-listen-port", str(free_port()), "--runtime-env-agent-port", str(free_port())]
    low = free_port()
    return subprocess.Popen([RAY, "start", "--block", "--num-cpus", "1", "--disable-usage-stats", *ports,
                             "--min-worker-port", str(low), "--max-worker-port", str(low + 50), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            env={**os.environ, "RAY_TMPDIR": temp_dir})


def _end(proc: subprocess.Popen) -> None:
    """Stop a node and every process of its session (its GCS, raylet and workers)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(40)  # Ray drains a node for up to 30 s on SIGTERM
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:  # the whole session is gone already
        pass
    proc.wait()


@pytest.fixture
def cluster(monkeypatch):
    # Token authentication on: Ray reads a token from ~/.ray, which a test must neither need nor make.
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    temp_dir = tempfile.mkdtemp(prefix="fbray", dir="/tmp")  # short: Ray's socket paths must fit
    port = free_port()
    address = f"127.0.0.1:{port}"
    nodes = [_node(temp_dir, "--head", "--port", str(port), "--include-dashboard", "false", "--temp-dir", temp_dir)]
    try:
        time.sleep(3)
        assert nodes[0].poll() is None, f"ray start --head exited with {nodes[0].returncode}"
        nodes.append(_node(temp_dir, "--address", address))
        deadline = time.monotonic() + 120
        ray.init(address=address, log_to_driver=False)
        try:
            while ray.cluster_resources().get("CPU", 0) < 2:
                assert time.monotonic() < deadline, "the worker node did not join"
                time.sleep(0.5)
        finally:
            ray.shutdown()
        yield address, nodes[1]
    finally:
        for node in reversed(nodes):
            _end(node)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _metrics(out: Path) -> dict[str, dict]:
    return {run_id: json.loads((out / "runs" / run_id / "summary.json").read_text())["tasks"] for run_id, _ in RUNS}


def test_ray_executor_matches_local_and_survives_a_killed_worker_node(tmp_path, server, cluster):
    address, worker = cluster
    manifest = _manifest(tmp_path, server.base_url)
    assert main(["eval-set", str(manifest), "--out", str(tmp_path / "local")]) == 0
    local = _metrics(tmp_path / "local")

    server.state.faults = [Fault("sleep:0.05", times=10**9)]  # cells long enough to be running at the kill
    out = tmp_path / "ray"
    proc = subprocess.Popen([sys.executable, "-m", "factbench", "eval-set", str(manifest), "--out", str(out),
                             "--executor", "ray", "--ray-address", address],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env={**os.environ})
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        started = [d.parent for d in (out / "cells").glob("*/*/run.json")]
        busy = [d for d in started if not (d / "summary.json").exists()]
        if len(started) > len(busy) >= 2:  # a cell finished and both nodes are running one
            break
        time.sleep(0.02)
    os.killpg(worker.pid, signal.SIGKILL)  # the worker node and the cell it was running, mid-set
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    assert "[6/6 done" in err
    assert _metrics(out) == local  # identical per-task metrics
    assert len(_rows(out)) == 6
    # The cell that was running on the killed node ran again (on the head) and resumed its records.
    resumed = [d for d in (out / "cells").glob("*/*") if json.loads((d / "run.json").read_text())["resumed_at"]]
    assert resumed
