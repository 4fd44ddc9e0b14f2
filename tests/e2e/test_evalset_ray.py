"""`eval-set --executor ray` on a real local Ray cluster this test starts: a head and a worker node
on loopback alone (tests/local_ray.py), one CPU each. Slow tier: starting Ray takes tens of seconds."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from local_ray import LOOPBACK, NO_EGRESS, descendants, off_loopback, tcp_sockets
from test_evalset import RUNS, _manifest, _rows

from factbench.cli.main import main
from factbench.serving.judge_server import free_port
from factbench.testing.scripted_server import Fault

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'factbench[ray]')")
RAY = str(Path(sys.executable).with_name("ray"))
# While the gate is shut every request takes this long: under the client's first timeout (10 s and
# more) and its floor (5 s), so nothing is retried, and far longer than the kill takes.
GATED_S = 4.0


def _node(temp_dir: str, *args: str) -> subprocess.Popen:
    """One Ray node in its own session (so the test can end exactly what it started)."""
    ports = ["--node-manager-port", str(free_port(LOOPBACK)), "--object-manager-port", str(free_port(LOOPBACK)),
             "--metrics-export-port", str(free_port(LOOPBACK)),
             "--dashboard-agent-grpc-port", str(free_port(LOOPBACK)),
             "--dashboard-agent-listen-port", str(free_port(LOOPBACK)),
             "--runtime-env-agent-port", str(free_port(LOOPBACK))]
    low = free_port(LOOPBACK)
    return subprocess.Popen([RAY, "start", "--block", "--num-cpus", "1", "--disable-usage-stats",
                             "--node-ip-address", LOOPBACK, *ports,
                             "--min-worker-port", str(low), "--max-worker-port", str(low + 50), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            env={**os.environ, **NO_EGRESS, "RAY_TMPDIR": temp_dir})


def _end(proc: subprocess.Popen) -> None:
    """Stop a node at once (a graceful stop drains it for 30 s, which no test needs): its process
    group, then each process below it (Ray gives every worker process a group of its own)."""
    below = descendants(proc.pid)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:  # the whole group is gone already
        pass
    for pid in below:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()


@pytest.fixture
def cluster(monkeypatch):
    # Token authentication on: Ray reads a token from ~/.ray, which a test must neither need nor make.
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    temp_dir = tempfile.mkdtemp(prefix="fbray", dir="/tmp")  # short: Ray's socket paths must fit
    port = free_port(LOOPBACK)
    address = f"{LOOPBACK}:{port}"
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
            # Both nodes registered on loopback (not on an address Ray chose in its place).
            assert {n["NodeManagerAddress"] for n in ray.nodes() if n["Alive"]} == {LOOPBACK}
            assert ray.util.get_node_ip_address() == LOOPBACK  # this driver too
        finally:
            ray.shutdown()
        yield address, nodes[0], nodes[1]
    finally:
        for node in reversed(nodes):
            _end(node)
        shutil.rmtree(temp_dir, ignore_errors=True)


def _metrics(out: Path) -> dict[str, dict]:
    return {run_id: json.loads((out / "runs" / run_id / "summary.json").read_text())["tasks"] for run_id, _ in RUNS}


def _cell_on(out: Path, node_pids: set[int]) -> Path | None:
    """A cell that a process of `node_pids` holds (its lock names the pid), whose run.json is
    written (so running it again resumes it) and that has no answer yet: it still has whole
    requests to make (answers, then claims from them), each taking GATED_S while the gate is shut."""
    for lock in (out / "cells").glob("*/*/.lock"):
        cell = lock.parent
        try:
            pid = int(lock.read_text().strip())
        except (OSError, ValueError):  # being written
            continue
        answers = cell / "answers.jsonl"
        if pid in node_pids and (cell / "run.json").exists() and not (cell / "summary.json").exists() \
                and not (answers.exists() and answers.stat().st_size):
            return cell
    return None


def test_ray_executor_matches_local_and_survives_a_killed_worker_node(tmp_path, server, cluster):
    address, head, worker = cluster
    manifest = _manifest(tmp_path, server.base_url)
    assert main(["eval-set", str(manifest), "--out", str(tmp_path / "local")]) == 0
    local = _metrics(tmp_path / "local")

    gate = threading.Event()  # shut: every request is slow, so a cell is surely running at the kill
    server.state.faults = [Fault(f"sleep:{GATED_S}", when=lambda body: not gate.is_set(), times=10**9)]
    out, log = tmp_path / "ray", tmp_path / "ray.err"
    with log.open("w") as err_file:
        proc = subprocess.Popen([sys.executable, "-m", "factbench", "eval-set", str(manifest), "--out", str(out),
                                 "--executor", "ray", "--ray-address", address],
                                stdout=subprocess.DEVNULL, stderr=err_file, env={**os.environ})
    try:
        deadline = time.monotonic() + 300
        victim = None
        while victim is None:
            assert proc.poll() is None and time.monotonic() < deadline, \
                f"no cell ran on the worker node:\n{log.read_text()[-3000:]}"
            victim = _cell_on(out, descendants(worker.pid))
            time.sleep(0.05)
        # Everything the set runs (driver, both nodes, their workers) talks over loopback alone.
        sockets = tcp_sockets(descendants(proc.pid, head.pid, worker.pid))
        _end(worker)  # the worker node and the cell it is running, mid-set
        gate.set()
        proc.wait(timeout=600)
    finally:
        gate.set()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert any(LOOPBACK in end for end, _, _ in sockets) and not off_loopback(sockets), sockets
    err = log.read_text()
    assert proc.returncode == 0, err[-3000:]
    assert "[6/6 done" in err
    assert _metrics(out) == local  # identical per-task metrics
    assert len(_rows(out)) == 6
    # The cell killed on the worker node ran again (on the head) and resumed from its run directory.
    assert json.loads((victim / "run.json").read_text())["resumed_at"]
