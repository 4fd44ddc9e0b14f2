"""A new user's first errors through the real CLI: every blocker at once, the reason before any usage
text, a missing directory named as such, and `score` finding its run's task data."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import role_args, write_longfact_fixture


def cli(*args: str, env: dict[str, str] | None = None, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "factbench", *args], capture_output=True, text=True, timeout=180,
                          env=env or dict(os.environ), cwd=cwd)


def test_the_readmes_first_command_names_every_blocker_at_once(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "SERPER_API_KEY", "FACTBENCH_DATA_DIR")}
    (tmp_path / "empty").mkdir()
    proc = cli("run", "--model", "openai/gpt-4o-mini", "--judge", "openai/gpt-4o-mini", "--tasks", "longfact-objects",
               "--limit", "30", "--evidence", "serper", "--max-cost", "2", "--data-dir", str(tmp_path / "empty"),
               "--results-dir", str(tmp_path / "results"), env=env)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "cannot start (3 problems)" in proc.stderr
    assert "OPENAI_API_KEY" in proc.stderr and "longfact-objects" in proc.stderr and "SERPER_API_KEY" in proc.stderr
    assert not (tmp_path / "results").exists()  # nothing written


def test_a_bad_argument_gives_its_reason_without_the_usage_dump():
    proc = cli("run", "--limit", "0")
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert lines[0] == "factbench run: error: argument --limit: must be >= 1, got 0"
    assert "usage:" not in proc.stderr and len(lines) <= 3


def test_compare_names_a_directory_that_does_not_exist(tmp_path):
    proc = cli("compare", str(tmp_path / "nope"), str(tmp_path / "nope2"))
    assert proc.returncode == 2 and f"{tmp_path / 'nope'}: no such directory" in proc.stderr


def test_score_reuses_the_runs_data_directory(tmp_path, server):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=2)
    proc = cli("run", "--tasks", "longfact-objects", *role_args(server.base_url), "--data-dir", str(data),
               "--results-dir", str(tmp_path / "results"), "--run-id", "first", "--no-relevance")
    assert proc.returncode == 0, proc.stderr[-2000:]
    (tmp_path / "elsewhere").mkdir()
    env = {**os.environ, "FACTBENCH_DATA_DIR": str(tmp_path / "elsewhere")}  # no task data here
    proc = cli("score", str(tmp_path / "results" / "first"), *role_args(server.base_url, model=False),
               "--results-dir", str(tmp_path / "results"), "--run-id", "again", "--no-relevance", env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"task data of {tmp_path / 'results' / 'first'}: {data}" in proc.stderr
