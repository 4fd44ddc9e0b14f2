"""`factbench eval-set`: 3 runs x 2 tasks against the scripted server, resumed per cell."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import default_sigint, write_longfact_fixture

from factbench.cli.main import main
from factbench.testing.scripted_server import Fault

RUNS = (("ckpt-100", 100), ("ckpt-200", 200), ("ckpt-300", 300))
TASKS = ("longfact-objects", "demo")


def _manifest(tmp_path: Path, url: str, extra: str = "") -> Path:
    data = tmp_path / "data"
    if not data.exists():
        write_longfact_fixture(data, n_topics=2, per_topic=3)
    runs = "".join(f'\n[[runs]]\nrun_id = "{rid}"\nstep = {step}\nmodel = "openai/test-model"\n'
                   for rid, step in RUNS)
    path = tmp_path / "set.toml"
    # No call cache: every request avoided on a second invocation is avoided by the cells' resume.
    path.write_text(f'tasks = {json.dumps(list(TASKS))}\ndata_dir = "{data}"\nmodel_base_url = "{url}"\n'
                    f'judge = "openai/judge"\njudge_base_url = "{url}"\nevidence = "none"\nuse_cache = false\n'
                    f'label = "my-model"\n{extra}{runs}')
    return path


def _rows(out: Path) -> list[dict[str, str]]:
    with (out / "leaderboard" / "leaderboard.csv").open() as fh:
        return [r for r in csv.DictReader(fh) if r["task"] != "overall"]


def test_eval_set_runs_every_cell_joins_runs_builds_the_leaderboard_and_resumes(tmp_path, server, capsys):
    manifest, out = _manifest(tmp_path, server.base_url), tmp_path / "out"
    assert main(["eval-set", str(manifest), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "[6/6 done, 0 running, 0 failed" in err  # one progress view over the set
    for run_id, step in RUNS:
        spec = json.loads((out / "runs" / run_id / "run.json").read_text())
        summary = json.loads((out / "runs" / run_id / "summary.json").read_text())
        assert spec["finished_at"] and list(spec["tasks"]) == list(TASKS) and spec["settings"]["step"] == step
        assert set(summary["tasks"]) == set(TASKS) and summary["errors"]["failed_samples"] == 0
    rows = _rows(out)
    assert sorted((r["run_id"], r["task"]) for r in rows) == sorted((r, t) for r, _ in RUNS for t in TASKS)
    assert {r["step"] for r in rows} == {"100", "200", "300"}
    assert 'class="trend"' in (out / "leaderboard" / "index.html").read_text()  # precision against step

    # A joined run is the run one `factbench run` over both tasks writes.
    assert main(["run", "--tasks", ",".join(TASKS), "--data-dir", str(tmp_path / "data"), "--results-dir",
                 str(tmp_path / "single"), "--run-id", "ckpt-100", "--step", "100", "--label", "my-model",
                 "--model", "openai/test-model", "--model-base-url", server.base_url, "--judge", "openai/judge",
                 "--judge-base-url", server.base_url, "--evidence", "none", "--no-cache", "--no-progress"]) == 0
    single = json.loads((tmp_path / "single" / "ckpt-100" / "summary.json").read_text())
    joined = json.loads((out / "runs" / "ckpt-100" / "summary.json").read_text())
    assert joined["tasks"] == single["tasks"] and joined["overall"] == single["overall"]
    capsys.readouterr()

    before = server.state.requests.total()
    page = (out / "leaderboard" / "leaderboard.csv").read_text()
    assert main(["eval-set", str(manifest), "--out", str(out)]) == 0
    assert server.state.requests.total() == before  # every cell resumed finished: no request at all
    assert (out / "leaderboard" / "leaderboard.csv").read_text() == page


def test_kill_9_in_the_middle_then_resume(tmp_path, server):
    manifest, out = _manifest(tmp_path, server.base_url), tmp_path / "out"
    server.state.keep_log = False
    server.state.faults = [Fault("sleep:0.05", times=10**9)]  # slow enough to be caught mid-set
    proc = subprocess.Popen([sys.executable, "-m", "factbench", "eval-set", str(manifest), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ})
    finished = lambda: sorted(p.parent for p in (out / "cells").glob("*/*/summary.json"))  # noqa: E731
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(finished()) < 2 and proc.poll() is None:
        time.sleep(0.02)
    time.sleep(0.3)  # into the next cell
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = finished()
    assert 2 <= len(done) < 6, "the kill came too late to test a resume"
    kept = {d: (d / "answers.jsonl").read_bytes() for d in done}
    server.state.faults = []
    requests = server.state.requests.total()
    assert main(["eval-set", str(manifest), "--out", str(out)]) == 0
    assert sorted((r["run_id"], r["task"]) for r in _rows(out)) == sorted((r, t) for r, _ in RUNS for t in TASKS)
    for d, answers in kept.items():  # finished cells were not run again
        assert (d / "answers.jsonl").read_bytes() == answers
    # The resume sends fewer requests than the whole set (6 cells of 6 prompts, 3+ requests each).
    assert server.state.requests.total() - requests < 6 * 6 * 3
    assert all((d / "summary.json").is_file() for d in (out / "runs").iterdir())


def test_a_failing_cell_is_retried_a_bounded_number_of_times(tmp_path, server, capsys):
    manifest = _manifest(tmp_path, server.base_url, extra="max_retries = 0\n")
    out = tmp_path / "out"
    server.state.faults = [Fault("status:400", times=2)]  # the first two requests fail: one cell has failed samples
    assert main(["eval-set", str(manifest), "--out", str(out), "--retries", "1"]) == 0
    err = capsys.readouterr().err
    assert "retrying" in err and "[6/6 done" in err
    assert len(_rows(out)) == 6

    server.state.faults = [Fault("status:400", times=10**9)]  # never answers: every attempt fails
    out2 = tmp_path / "out2"
    assert main(["eval-set", str(manifest), "--out", str(out2), "--retries", "1"]) == 1
    err = capsys.readouterr().err
    assert err.count("did not finish after 2 attempt(s): 6 failed sample(s)") == 6  # 1 try + 1 retry each
    assert "retrying" in err
    # Cells that end with failed samples stay visible: joined, on the leaderboard, and never ranked.
    rows = _rows(out2)
    assert len(rows) == 6 and all(r["rank"] == "" and r["unranked_reason"] for r in rows)


def test_cells_split_into_shards_give_the_same_metrics(tmp_path, server):
    manifest = _manifest(tmp_path, server.base_url)
    assert main(["eval-set", str(manifest), "--out", str(tmp_path / "whole")]) == 0
    assert main(["eval-set", str(manifest), "--out", str(tmp_path / "split"), "--shards-per-cell", "2",
                 "--cells-at-once", "2"]) == 0
    for run_id, _ in RUNS:
        whole, split = (json.loads((tmp_path / d / "runs" / run_id / "summary.json").read_text())
                        for d in ("whole", "split"))
        assert split["tasks"] == whole["tasks"] and split["overall"] == whole["overall"]
    assert len(list((tmp_path / "split" / "cells").glob("*/*.shards/*-of-2/summary.json"))) == 12
    same = lambda rows: [{k: v for k, v in r.items() if k != "date"} for r in rows]  # noqa: E731
    assert same(_rows(tmp_path / "split")) == same(_rows(tmp_path / "whole"))


def test_ctrl_c_stops_the_set_at_once_and_it_resumes(tmp_path, server):
    manifest, out = _manifest(tmp_path, server.base_url), tmp_path / "out"
    server.state.keep_log = False
    server.state.faults = [Fault("sleep:0.2", times=10**9)]
    proc = subprocess.Popen([sys.executable, "-m", "factbench", "eval-set", str(manifest), "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env={**os.environ},
                            preexec_fn=default_sigint)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not list((out / "cells").glob("*/*/answers.jsonl")) and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)  # a cell in flight is not waited for
    assert proc.returncode == 130, err[-2000:]
    assert "re-run the same command to resume" in err and "Traceback" not in err
    server.state.faults = []
    assert main(["eval-set", str(manifest), "--out", str(out)]) == 0
    assert len(_rows(out)) == 6


def test_join_refuses_parts_of_different_runs(tmp_path, server):
    from factbench.pipeline.merge import join_tasks
    from factbench.pipeline.options import UsageError

    def cell(run_id: str, task: str, judge: str = "openai/judge") -> str:
        assert main(["run", "--tasks", task, "--results-dir", str(tmp_path / task), "--run-id", run_id, "--limit", "2",
                     "--model", "openai/test-model", "--model-base-url", server.base_url, "--judge", judge,
                     "--judge-base-url", server.base_url, "--evidence", "none", "--no-progress"]) == 0
        return str(tmp_path / task / run_id)

    demo, truth = cell("a", "demo"), cell("a", "groundtruth")
    other = cell("b", "groundtruth", judge="openai/other-judge")
    with pytest.raises(UsageError, match="not a part of the same run"):
        join_tasks([demo, other], tmp_path / "j1")
    with pytest.raises(UsageError, match="task demo is in both"):
        join_tasks([demo, demo], tmp_path / "j2")
    joined = join_tasks([demo, truth], tmp_path / "j3")
    assert list(joined.tasks) == ["demo", "groundtruth"]
    with pytest.raises(UsageError, match="not empty"):
        join_tasks([demo, truth], tmp_path / "j3")
