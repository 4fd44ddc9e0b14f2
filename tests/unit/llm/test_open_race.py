"""Several processes opening one new cache or memo file at the same moment all succeed.

Before the schema was created under a write lock, about one round in three of six processes
opening a new memo failed with "database is locked" (the schema read and the write in between
raced, and SQLite answers that at once, without its busy wait)."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest

from factbench.llm.cache import CallCache
from factbench.llm.memo import VerdictMemo

OPENERS = {"memo": VerdictMemo, "cache": CallCache}


def _open(kind: str, path: str, barrier, errors) -> None:  # type: ignore[no-untyped-def]
    barrier.wait()
    try:
        OPENERS[kind](path)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        errors.put(f"{type(exc).__name__}: {exc}")


@pytest.mark.parametrize("kind", sorted(OPENERS))
def test_six_processes_open_one_new_file_at_once(tmp_path: Path, kind: str) -> None:
    ctx = mp.get_context("fork")
    for round_ in range(10):
        path = tmp_path / f"{round_}.sqlite"
        barrier, errors = ctx.Barrier(6), ctx.Queue()
        procs = [ctx.Process(target=_open, args=(kind, str(path), barrier, errors)) for _ in range(6)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
        assert [p.exitcode for p in procs] == [0] * 6
        assert errors.empty(), errors.get()
