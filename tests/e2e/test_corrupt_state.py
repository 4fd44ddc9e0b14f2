"""Damaged run state: corrupt stage lines are moved aside and redone; bad run.json is a clear exit 2;
a damaged cache is detected at open and replaced."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from conftest import role_args, write_longfact_fixture

from factbench.cli.main import main
from factbench.llm.cache import CallCache
from factbench.stages.registry import stage_files
from factbench.store.run_dir import CorruptRecord, RunStore

N = 8
DAMAGE = {
    "garbage": b"%%% not json at all %%%",
    "half line": b'{"task": "longfact-objects", "id": "topic0-0", "abstai',
    "missing field": b'{"task": "longfact-objects", "id": "topic0-1"}',
    "NULs": b"\x00\x00\x00\x00\x00\x00",
    "bad UTF-8": b'{"task": "longfact-objects", "id": "\xff\xfe\xfd"}',
    "deep nesting": b'{"task": "longfact-objects", "id": "x", "claims": ' + b"[" * 5000 + b"]" * 5000 + b"}",
}


def _args(tmp_path: Path, url: str, *extra: str) -> list[str]:
    return ["run", "--tasks", "longfact-objects", "--data-dir", str(tmp_path / "data"), "--results-dir",
            str(tmp_path / "res"), "--run-id", "c", "--cache", str(tmp_path / "cache.sqlite"), *extra] + role_args(url)


@pytest.fixture
def finished(tmp_path, server):
    write_longfact_fixture(tmp_path / "data", n_topics=2, per_topic=N // 2)
    assert main(_args(tmp_path, server.base_url)) == 0
    run = tmp_path / "res" / "c"
    return run, json.loads((run / "summary.json").read_text())


def _ids(path: Path) -> list[str]:
    return [json.loads(x)["id"] for x in path.read_text().splitlines() if x.strip()]


@pytest.mark.parametrize("kind", list(DAMAGE))
@pytest.mark.parametrize("stage", ["claims", "verdicts", "errors"])
def test_corrupt_line_anywhere_is_moved_aside_and_redone(tmp_path, server, finished, capsys, stage, kind):
    run, baseline = finished
    path = run / f"{stage}.jsonl"
    lines = path.read_bytes().splitlines(keepends=True) if path.exists() else []  # errors.jsonl: none yet
    # Damage the third line (replacing a real record where there is one) and add one more later on.
    at = min(2, len(lines))
    victim = lines[at] if len(lines) > at else None
    lines[at:at + 1] = [DAMAGE[kind] + b"\n"]
    lines.insert(at + 1 + len(lines[at + 1:]) // 2, DAMAGE[kind] + b"\n")
    path.write_bytes(b"".join(lines))
    capsys.readouterr()
    assert main(_args(tmp_path, server.base_url)) == 0
    err = capsys.readouterr().err
    assert f"warning: {path}:{at + 1}:" in err and "moved to" in err, err
    assert "Traceback" not in err
    aside = path.with_name(path.name + ".corrupt")
    assert DAMAGE[kind] in aside.read_bytes()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["tasks"] == baseline["tasks"]  # the damaged sample was redone, to the same result
    for name in ("answers", "claims", "evidence", "verdicts"):
        ids = _ids(run / f"{name}.jsonl")
        assert len(ids) == len(set(ids)) == N, name
    if victim is not None and stage == "claims":
        # The verdicts built on the removed claims were moved aside too and redone.
        sid = json.loads(victim)["id"]
        assert sid.encode() in (run / "verdicts.jsonl.corrupt").read_bytes()


def test_a_reader_of_a_damaged_stage_file_is_told_file_and_line(finished):
    run, _ = finished
    path = run / "claims.jsonl"
    path.write_bytes(path.read_bytes() + b"garbage\n")
    with pytest.raises(CorruptRecord, match=f"{path}:{N + 1}: "):
        list(RunStore(run, stage_files()).iter_records("claims"))  # without the lock nothing is rewritten
    assert path.read_bytes().endswith(b"garbage\n")


@pytest.mark.parametrize("content", [b"{not json", b"\xff\xfe{}", b"[1, 2]", b"[" * 100000, b""])
def test_unreadable_run_json_is_a_clear_exit_2(tmp_path, server, finished, capsys, content):
    run, _ = finished
    (run / "run.json").write_bytes(content)
    assert main(_args(tmp_path, server.base_url)) == 2
    err = capsys.readouterr().err
    assert f"factbench: error: {run / 'run.json'}" in err and "--run-id" in err, err
    assert "Traceback" not in err
    assert (run / "run.json").read_bytes() == content  # nothing overwritten


def test_unreadable_summary_json_is_rebuilt(tmp_path, server, finished):
    run, baseline = finished
    (run / "summary.json").write_bytes(b"\x00garbage{")
    assert main(_args(tmp_path, server.base_url)) == 0
    assert json.loads((run / "summary.json").read_text())["tasks"] == baseline["tasks"]


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _random(path: Path) -> None:
    path.write_bytes(bytes((i * 7919 + 13) % 256 for i in range(40_000)))


def _bad_header(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[:16] = b"definitely-not-a"
    path.write_bytes(bytes(data))


def _bad_pages(path: Path) -> None:
    data = bytearray(path.read_bytes())
    for i in range(4096, len(data), 97):  # leave the header alone, damage every page after it
        data[i] = 0xAB
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("damage", [_truncate, _random, _bad_header, _bad_pages])
def test_damaged_cache_is_detected_at_open_and_moved_aside(tmp_path, server, finished, capsys, damage):
    run, baseline = finished
    cache = tmp_path / "cache.sqlite"
    conn = sqlite3.connect(cache)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file, as after a clean exit
    conn.close()
    damage(cache)
    shutil.rmtree(run)
    capsys.readouterr()
    assert main(_args(tmp_path, server.base_url)) == 0
    err = capsys.readouterr().err
    assert f"warning: the call cache {cache} is damaged" in err, err
    moved = [p for p in tmp_path.iterdir() if p.name.startswith("cache.sqlite.corrupt-")
             and not p.name.endswith(("-wal", "-shm"))]
    assert len(moved) == 1 and f"moved it to {moved[0]}" in err
    assert json.loads((run / "summary.json").read_text())["tasks"] == baseline["tasks"]
    assert CallCache(cache).stats()["entries"] > 0  # a sound new cache took its place
    assert json.loads((run / "summary.json").read_text())["errors"]["failed_samples"] == 0


def test_no_cache_runs_past_a_damaged_cache(tmp_path, server, finished, capsys):
    run, baseline = finished
    (tmp_path / "cache.sqlite").write_bytes(b"rubbish" * 100)
    shutil.rmtree(run)
    assert main(_args(tmp_path, server.base_url, "--no-cache")) == 0
    assert "damaged" not in capsys.readouterr().err
    assert (tmp_path / "cache.sqlite").read_bytes() == b"rubbish" * 100
