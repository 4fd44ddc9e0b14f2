"""Stage records are written at once and fsynced in batches: a killed process loses nothing
written, an OS crash at most the last batch, and closing the store syncs the rest."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from factbench.store import run_dir
from factbench.store.files import WriteFailed
from factbench.store.records import ErrorRecord
from factbench.store.run_dir import RunStore


def _record(i: int) -> ErrorRecord:
    return ErrorRecord(task="t", id=f"s{i}", stage="claims", kind="k", detail="d")


@pytest.fixture
def fsyncs(monkeypatch):
    calls: list[int] = []
    real = os.fsync
    monkeypatch.setattr(run_dir.os, "fsync", lambda fd: (calls.append(fd), real(fd))[1])
    monkeypatch.setattr(run_dir, "SYNC_S", 3600.0)  # count by records only
    return calls


def test_records_are_readable_at_once_and_fsynced_per_batch(tmp_path, fsyncs):
    store = RunStore(tmp_path / "run").open()
    opened = len(fsyncs)  # the lock file's pid line
    n = 3 * run_dir.SYNC_EVERY + 5
    for i in range(n):
        store.append("errors", _record(i))
        assert len(store.path("errors").read_text().splitlines()) == i + 1  # on the file before append returns
    assert len(fsyncs) - opened == 3  # one per SYNC_EVERY records, not one per record
    store.close()
    assert len(fsyncs) - opened == 4  # the last, partial batch when the store closes
    assert [r.id for r in RunStore(tmp_path / "run").iter_records("errors")] == [f"s{i}" for i in range(n)]


def test_one_sync_covers_every_stage_file_written(tmp_path, fsyncs):
    store = RunStore(tmp_path / "run").open()
    opened = len(fsyncs)
    for i in range(run_dir.SYNC_EVERY // 2):
        store.append("errors", _record(i))
        store.append("claims", _record(i).model_copy())
    assert len(fsyncs) - opened == 2  # both files at the batch boundary
    store.close()
    assert len(fsyncs) - opened == 2  # nothing left to sync


def test_a_failed_fsync_names_the_file(tmp_path, monkeypatch):
    store = RunStore(tmp_path / "run").open()
    store.append("errors", _record(0))

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(run_dir.os, "fsync", full)
    with pytest.raises(WriteFailed, match="no space left on device: .*errors.jsonl"):
        store.sync()
    store.close()  # closing after the failure raises nothing more


def test_a_killed_writer_loses_no_record_it_wrote(tmp_path):
    """SIGKILL right after the appends, before any batch fsync or close: every line is in the file."""
    code = (
        "import os, signal, sys\n"
        "from factbench.store.run_dir import RunStore\n"
        "from factbench.store.records import ErrorRecord\n"
        "store = RunStore(sys.argv[1]).open()\n"
        "for i in range(10):\n"
        "    store.append('errors', ErrorRecord(task='t', id=f's{i}', stage='claims', kind='k', detail='d'))\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "run")], capture_output=True)
    assert proc.returncode == -signal.SIGKILL
    assert [r.id for r in RunStore(tmp_path / "run").iter_records("errors")] == [f"s{i}" for i in range(10)]
