"""How a set becomes jobs: one per (run, task) cell or shard, the judge budget shared by the jobs running at once."""

from __future__ import annotations

import sys

from factbench.cli.main import build_parser, main
from factbench.evalset.manifest import load_manifest
from factbench.evalset.run_set import plan_jobs

# `factbench run`'s flag actions, as `factbench eval-set` passes them to load_manifest
RUN_FLAGS = build_parser().parse_args(["eval-set", "set.toml", "--out", "out"]).run_flags

MANIFEST = """\
judge = "openai/judge"
tasks = ["demo", "longfact-objects"]
judge_concurrency = 96

[[runs]]
run_id = "a"
model = "openai/a"

[[runs]]
run_id = "b"
model = "openai/b"
judge_concurrency = 10
"""


def test_one_job_per_cell_and_the_judge_budget_split_over_the_jobs_at_once(tmp_path):
    (tmp_path / "set.toml").write_text(MANIFEST)
    manifest = load_manifest(tmp_path / "set.toml", RUN_FLAGS)
    jobs = plan_jobs(manifest, tmp_path / "out", slots=4)
    assert [(j.run_id, j.task, j.shard) for j in jobs] == [("a", "demo", None), ("a", "longfact-objects", None),
                                                          ("b", "demo", None), ("b", "longfact-objects", None)]
    assert jobs[0].run_dir == tmp_path / "out" / "cells" / "demo" / "a"
    assert [j.options["judge_concurrency"] for j in jobs] == [24, 24, 2, 2]  # 96 / 4, 10 / 4
    assert all(j.options["progress"] is False for j in jobs)  # the set has one progress view
    sharded = plan_jobs(manifest, tmp_path / "out", shards_per_cell=3, slots=1)
    assert len(sharded) == 12 and {j.shard for j in sharded} == {"1/3", "2/3", "3/3"}
    assert sharded[0].run_dir == tmp_path / "out" / "cells" / "demo" / "a.shards" / "1-of-3"


def test_ray_executor_without_ray_is_a_usage_error(tmp_path, monkeypatch, capsys):
    (tmp_path / "set.toml").write_text(MANIFEST)
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    assert main(["eval-set", str(tmp_path / "set.toml"), "--out", str(tmp_path / "out"), "--executor", "ray"]) == 2
    assert "pip install 'factbench[ray]'" in capsys.readouterr().err
    assert main(["eval-set", str(tmp_path / "set.toml"), "--out", str(tmp_path / "out"), "--ray-address", "x"]) == 2
    assert "--ray-address needs --executor ray" in capsys.readouterr().err
