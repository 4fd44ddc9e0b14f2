"""docs/ci-gate.md's Gate step, run as GitHub runs it (`bash -e`): it fails exactly when compare fails."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = ROOT / "results" / "published"
BETTER, WORSE = PUBLISHED / "factscore-perplexityai-human", PUBLISHED / "factscore-instructgpt-human"


def gate_step() -> str:
    """The `run:` block of the workflow's step named Gate."""
    text = (ROOT / "docs" / "ci-gate.md").read_text()
    m = re.search(r"- name: Gate\n(\s+)run: \|\n((?:\1  .*\n)+)", text)
    assert m, "docs/ci-gate.md has no Gate step with a `run: |` block"
    indent = len(m.group(1)) + 2
    return "".join(line[indent:] + "\n" for line in m.group(2).splitlines())


def _gate(tmp_path: Path, base: Path, candidate: Path) -> subprocess.CompletedProcess:
    work = tmp_path / "ws"
    shutil.copytree(base, work / "results" / "base")
    shutil.copytree(candidate, work / "results" / "candidate")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(["bash", "-e", "-c", gate_step()], cwd=work, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(autouse=True)
def _needs_runs():
    if shutil.which("factbench", path=str(Path(sys.executable).parent)) is None or not BETTER.is_dir():
        pytest.skip("needs the installed factbench command and results/published")


def test_the_gate_step_fails_when_compare_finds_a_regression(tmp_path):
    proc = _gate(tmp_path, BETTER, WORSE)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "| overall |" in (tmp_path / "ws" / "report.md").read_text()  # the report is still written


def test_the_gate_step_passes_when_compare_passes(tmp_path):
    proc = _gate(tmp_path, WORSE, WORSE)
    assert proc.returncode == 0, proc.stderr[-2000:]
