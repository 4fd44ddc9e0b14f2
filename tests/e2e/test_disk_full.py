"""A full disk: every write checked, one clear line and exit 2 within seconds, then a clean resume."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import role_args, write_longfact_fixture

from factbench.cli.main import main
from factbench.store import files
from factbench.store.files import WriteFailed, write_all


def _args(data: Path, results: Path, cache: Path, url: str) -> list[str]:
    return ["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(results),
            "--run-id", "full", "--cache", str(cache)] + role_args(url)


def _ids(path: Path) -> list[str]:
    return [json.loads(x)["id"] for x in path.read_text().splitlines() if x.strip()]


def test_partial_writes_are_completed(tmp_path, monkeypatch):
    real = os.write
    monkeypatch.setattr(files.os, "write", lambda fd, data: real(fd, bytes(data[:3])))  # 3 bytes at a time
    path = tmp_path / "f"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    write_all(fd, b'{"a": "0123456789"}\n', path)
    os.close(fd)
    assert path.read_bytes() == b'{"a": "0123456789"}\n'


def test_a_write_that_fails_half_way_leaves_no_torn_line(tmp_path, monkeypatch):
    path = tmp_path / "f"
    path.write_bytes(b'{"whole": 1}\n')
    real = os.write

    def half_then_full(fd, data):
        if len(data) > 4:
            return real(fd, bytes(data[:4]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(files.os, "write", half_then_full)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    with pytest.raises(WriteFailed, match=f"no space left on device: {path}"):
        write_all(fd, b'{"torn": 2}\n', path)
    os.close(fd)
    assert path.read_bytes() == b'{"whole": 1}\n'


def test_disk_full_mid_run_stops_with_exit_2_then_resumes(tmp_path, server, monkeypatch, capsys):
    data = write_longfact_fixture(tmp_path / "data", n_topics=2, per_topic=6)
    args = _args(data, tmp_path / "res", tmp_path / "cache.sqlite", server.base_url)
    real = os.write
    writes = {"n": 0}

    def full_after_three_verdicts(fd, data):
        if os.readlink(f"/proc/self/fd/{fd}").endswith("verdicts.jsonl"):
            writes["n"] += 1
            if writes["n"] > 3:
                return real(fd, bytes(data[: len(data) // 2])) if writes["n"] == 4 else _enospc()
        return real(fd, data)

    monkeypatch.setattr(files.os, "write", full_after_three_verdicts)
    started = time.monotonic()
    assert main(args) == 2
    assert time.monotonic() - started < 30
    err = capsys.readouterr().err
    verdicts = tmp_path / "res" / "full" / "verdicts.jsonl"
    assert f"factbench: error: no space left on device: {verdicts}" in err
    assert "Traceback" not in err
    assert len(_ids(verdicts)) == 3  # whole lines only: the half-written one was cut back
    assert not (tmp_path / "res" / "full" / "errors.jsonl").read_text().strip()  # a full disk is no sample's fault

    monkeypatch.setattr(files.os, "write", real)  # space freed
    assert main(args) == 0
    for stage in ("answers", "claims", "evidence", "verdicts"):
        ids = _ids(tmp_path / "res" / "full" / f"{stage}.jsonl")
        assert len(ids) == len(set(ids)) == 12, stage


def test_disk_full_names_the_file_whose_write_failed(tmp_path, server, monkeypatch, capsys):
    """Once the disk is full every later write fails too (the accounting lines written while the run
    stops): the error still names the file whose write failed first."""
    data = write_longfact_fixture(tmp_path / "data", n_topics=2, per_topic=6)
    args = _args(data, tmp_path / "res", tmp_path / "cache.sqlite", server.base_url)
    real = os.write
    state = {"answers": 0, "first": None}

    def full_from_the_fourth_answer(fd, data):
        path = os.readlink(f"/proc/self/fd/{fd}")
        if path.endswith("answers.jsonl"):
            state["answers"] += 1
        if state["answers"] > 3:
            state["first"] = state["first"] or path
            _enospc()
        return real(fd, data)

    monkeypatch.setattr(files.os, "write", full_from_the_fourth_answer)
    assert main(args) == 2
    err = capsys.readouterr().err
    answers = tmp_path / "res" / "full" / "answers.jsonl"
    assert state["first"] == str(answers)
    assert f"factbench: error: no space left on device: {answers}" in err
    assert "invocations.jsonl" not in err and "Traceback" not in err
    monkeypatch.setattr(files.os, "write", real)
    assert main(args) == 0
    assert len(_ids(answers)) == 12


def _enospc():
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs (needs root and mount rights; skipped otherwise)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.decode().strip() or 'mount failed'}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.parametrize("what", ["results", "cache"])
def test_a_really_full_disk(tmp_path, server, small_disk, what):
    data = write_longfact_fixture(tmp_path / "data", n_topics=2, per_topic=6)
    results = small_disk / "res" if what == "results" else tmp_path / "res"
    cache = small_disk / "cache.sqlite" if what == "cache" else tmp_path / "cache.sqlite"
    filler = small_disk / "filler"
    stat = os.statvfs(small_disk)
    filler.write_bytes(b"\0" * (stat.f_bavail * stat.f_frsize - 12 * 1024))  # 12 KiB left
    cmd = [sys.executable, "-m", "factbench"] + _args(data, results, cache, server.base_url)
    full = subprocess.run(cmd, capture_output=True, timeout=120)
    err = full.stderr.decode()
    assert full.returncode == 2, err[-2000:]
    assert f"factbench: error: no space left on device: {small_disk}" in err, err[-2000:]
    assert "Traceback" not in err
    filler.unlink()
    resumed = subprocess.run(cmd, capture_output=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr.decode()[-2000:]
    ids = _ids(results / "full" / "verdicts.jsonl")
    assert len(ids) == len(set(ids)) == 12
