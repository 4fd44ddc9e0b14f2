"""`run --shard I/N` + `merge` gives the unsharded run: same summary metrics, same records, same identity."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import role_args, write_longfact_fixture

from factbench.cli.main import main


def _run(tmp_path: Path, server, run_id: str, *extra: str) -> int:
    data = tmp_path / "data"
    if not data.exists():
        write_longfact_fixture(data, n_topics=2, per_topic=4)
    return main(["run", "--tasks", "longfact-objects,demo", "--data-dir", str(data), "--results-dir",
                 str(tmp_path / "res"), "--run-id", run_id, "--cache", str(tmp_path / f"{run_id}.sqlite"),
                 *extra] + role_args(server.base_url))


def _records(run: Path, stage: str) -> set[str]:
    path = run / f"{stage}.jsonl"
    return set(path.read_text().splitlines()) if path.exists() else set()


def test_sharded_run_merged_equals_the_unsharded_run(tmp_path, server, capsys):
    assert _run(tmp_path, server, "whole") == 0
    for i in (1, 2, 3):
        assert _run(tmp_path, server, f"part{i}", "--shard", f"{i}/3") == 0
    res = tmp_path / "res"
    sizes = [sum(t["n_prompts"] for t in json.loads((res / f"part{i}" / "run.json").read_text())["tasks"].values())
             for i in (1, 2, 3)]
    assert sizes == [5, 5, 4]  # 8 LongFact + 6 demo prompts, dealt in turn
    assert main(["merge", *(str(res / f"part{i}") for i in (3, 1, 2)), "--out", str(res / "merged")]) == 0

    whole, merged = res / "whole", res / "merged"
    s_whole = json.loads((whole / "summary.json").read_text())
    s_merged = json.loads((merged / "summary.json").read_text())
    assert s_merged["tasks"] == s_whole["tasks"] and s_merged["overall"] == s_whole["overall"]
    assert s_merged["errors"] == s_whole["errors"] and s_merged["judges"] == s_whole["judges"]
    for stage in ("answers", "claims", "evidence", "verdicts", "relevance", "errors"):
        assert _records(merged, stage) == _records(whole, stage), stage
    assert (merged / "scores.jsonl").read_text() == (whole / "scores.jsonl").read_text()
    spec_whole, spec_merged = (json.loads((d / "run.json").read_text()) for d in (whole, merged))
    assert spec_merged["identity"] == spec_whole["identity"]
    assert spec_merged["tasks"] == spec_whole["tasks"]
    assert spec_merged["settings"]["shard"] is None and spec_merged["merged"]["shards"] == 3

    # The merged directory is an ordinary run: resuming it with the unsharded command does nothing new.
    requests = server.state.requests.total()
    assert main(["run", "--tasks", "longfact-objects,demo", "--data-dir", str(tmp_path / "data"), "--results-dir",
                 str(res), "--run-id", "merged"] + role_args(server.base_url)) == 0
    assert server.state.requests.total() == requests


def test_merge_refuses_what_is_not_one_complete_run(tmp_path, server, capsys):
    assert _run(tmp_path, server, "a1", "--shard", "1/2") == 0
    assert _run(tmp_path, server, "a2", "--shard", "2/2") == 0
    res = tmp_path / "res"
    assert main(["merge", str(res / "a1"), "--out", str(res / "m")]) == 2
    assert "missing [2]" in capsys.readouterr().err
    assert main(["merge", str(res / "a1"), str(res / "a1"), "--out", str(res / "m")]) == 2
    assert "repeated [1]" in capsys.readouterr().err
    other = ["--judge", "openai/other-judge", "--judge-base-url", server.base_url]
    assert main(["run", "--tasks", "demo", "--results-dir", str(res), "--run-id", "b2", "--shard", "2/2",
                 "--model", "openai/test-model", "--model-base-url", server.base_url, "--no-progress"] + other) == 0
    assert main(["merge", str(res / "a1"), str(res / "b2"), "--out", str(res / "m")]) == 2
    assert "not a shard of the same run" in capsys.readouterr().err
    (res / "full").mkdir()
    (res / "full" / "x").write_text("")
    assert main(["merge", str(res / "a1"), str(res / "a2"), "--out", str(res / "full")]) == 2
    assert "not empty" in capsys.readouterr().err
    assert _run(tmp_path, server, "bad", "--shard", "3/2") == 2
    assert "expected I/N" in capsys.readouterr().err
