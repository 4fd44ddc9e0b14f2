"""Progress that fits where it is written: a pipe gets plain lines, never cursor codes or carriage returns."""

from __future__ import annotations

import io
import os
import subprocess
import sys

import pytest
from conftest import role_args

from factbench.pipeline.progress import Progress, resolve_display


def _run(server, tmp_path, *extra: str) -> subprocess.CompletedProcess:
    args = [a for a in role_args(server.base_url) if a != "--no-progress"]
    return subprocess.run([sys.executable, "-m", "factbench", "run", "--tasks", "demo", "--limit", "3", *args,
                           "--results-dir", str(tmp_path), *extra], capture_output=True, text=True, timeout=180,
                          env={**os.environ, "COLUMNS": "100"})


def test_a_piped_run_writes_plain_progress_lines_without_cursor_codes(server, tmp_path):
    proc = _run(server, tmp_path, "--run-id", "piped")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "\x1b" not in proc.stderr and "\r" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("progress")]
    assert any(" claims " in ln and " 3/3" in ln for ln in lines), proc.stderr[-2000:]


def test_display_none_prints_no_progress(server, tmp_path):
    proc = _run(server, tmp_path, "--run-id", "quiet", "--display", "none")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert not [ln for ln in proc.stderr.splitlines() if ln.startswith("progress")]


def test_a_bad_display_is_a_usage_error(server, tmp_path):
    proc = _run(server, tmp_path, "--display", "fancy")
    assert proc.returncode == 2 and "--display" in proc.stderr and "Traceback" not in proc.stderr


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_auto_display_follows_the_stream():
    assert resolve_display("auto", io.StringIO()) == "plain"
    assert resolve_display(True, _Tty()) == "live"
    assert resolve_display(False, _Tty()) == "none"
    with pytest.raises(ValueError, match="display must be one of"):
        resolve_display("fancy", io.StringIO())


def test_plain_lines_come_at_most_once_per_interval_and_once_at_the_end():
    out = io.StringIO()
    progress = Progress({"claims": 4, "verdicts": 4}, "plain", {}, {}, stream=out, interval_s=3600)
    for _ in range(4):
        progress.done("claims")
    progress.failed("verdicts")
    assert out.getvalue() == ""  # within the interval: nothing yet
    progress.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and "claims    4/4" in lines[0] and "verdicts  0/4 (errors=1)" in lines[1]


def test_live_bars_redraw_for_a_terminal():
    out = _Tty()
    progress = Progress({"claims": 2}, "live", {}, {}, stream=out)
    progress.done("claims")
    progress.close()
    assert "\r" in out.getvalue()
