"""The demo's server checks: one real completion before work, and a server that dies is reported
(exit status and log tail) and stops the work within seconds. Fake servers are real processes."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from factbench.serving.judge_server import ServeError, exit_description, free_port, start, supervise

# A stand-in server process: lists its model, then behaves as told on /chat/completions.
FAKE = textwrap.dedent('''
    import json, os, sys
    from http.server import BaseHTTPRequestHandler, HTTPServer
    mode = sys.argv[2]
    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass
        def _send(self, obj):
            body = json.dumps(obj).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def do_GET(self):
            self._send({"data": [{"id": "fake"}]})
        def do_POST(self):
            if mode == "die-on-completion":
                print("ggml: fatal error in the CPU backend", flush=True)
                os._exit(4)
            text = "" if mode == "empty" else "OK"
            self._send({"choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]})
    print("fake server listening", flush=True)
    HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
''')


def fake_server(tmp_path: Path, mode: str) -> tuple[list[str], str]:
    script = tmp_path / "fake_server.py"
    script.write_text(FAKE)
    port = free_port()
    return [sys.executable, str(script), str(port), mode], f"http://127.0.0.1:{port}/v1"


def test_a_server_that_answers_passes_the_smoke_completion(tmp_path):
    cmd, url = fake_server(tmp_path, "ok")
    with start(cmd, url, "fake", timeout_s=30, log=tmp_path / "server.log") as served:
        assert served.death_report() is None
    assert served.proc.poll() is not None


def test_a_server_that_dies_on_its_first_completion_is_reported_with_status_and_log(tmp_path):
    cmd, url = fake_server(tmp_path, "die-on-completion")
    with pytest.raises(ServeError) as info:
        start(cmd, url, "fake", timeout_s=30, log=tmp_path / "server.log")
    message = str(info.value)
    assert "exited with status 4" in message
    assert "ggml: fatal error in the CPU backend" in message  # the log's tail


def test_an_empty_test_completion_is_a_failure(tmp_path):
    cmd, url = fake_server(tmp_path, "empty")
    with pytest.raises(ServeError, match="came back empty"):
        start(cmd, url, "fake", timeout_s=30, log=tmp_path / "server.log")


def test_a_server_dying_mid_run_stops_the_work_with_its_status(tmp_path):
    cmd, url = fake_server(tmp_path, "ok")
    served = start(cmd, url, "fake", timeout_s=30, log=tmp_path / "server.log")
    work = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    served.proc.kill()  # the server dies while the work runs
    rc, report = supervise(served, work, poll_s=0.1, grace_s=5)
    assert rc == 1 and work.poll() is not None
    assert "was killed by SIGKILL" in report and "fake server listening" in report


def test_work_that_finishes_returns_its_own_status(tmp_path):
    cmd, url = fake_server(tmp_path, "ok")
    with start(cmd, url, "fake", timeout_s=30) as served:
        work = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
        assert supervise(served, work, poll_s=0.05) == (3, None)


def test_signals_are_named():
    assert exit_description(2) == "exited with status 2"
    assert "SIGILL" in exit_description(-4) and "CPU feature" in exit_description(-4)
