"""The run directory: run.json (the spec), one append-only JSONL file per stage, a lock.

Records are appended one whole line per write, at once, so a killed process loses at most the
record being written. fsync, which only an operating-system crash or power loss needs, is done
for every stage file written, together: at every SYNC_EVERY-th record, at the first record
SYNC_S seconds after the last fsync, and when the store closes (so such a crash loses at most
SYNC_EVERY - 1 records). A torn last line is dropped (and truncated) when the run is reopened, and
corrupt lines anywhere else are moved aside (store/repair.py). Every write checks its result
(store/files.py): a full disk stops the run with "no space left on device: PATH".
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from factbench.store.artefacts import RunSpec, RunSummary
from factbench.store.files import WriteFailed, replace_file, write_all
from factbench.store.jsonl import InputFileError, loads_bounded
from factbench.store.records import Record, StageFiles
from factbench.store.repair import iter_lines, parse_line, repair_run

T = TypeVar("T", bound=BaseModel)
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
MAX_RUN_ID = 128
SYNC_EVERY = 64  # stage files are fsynced after this many appended records ...
SYNC_S = 0.5  # ... or this many seconds, whichever comes first (every record is written at once)
# Run directories this process holds the lock of -> who holds it (thread, since when): a second
# run of the same directory in this process (a notebook cell run again) is told what holds it.
_HELD: dict[str, str] = {}


class RunLocked(Exception):
    pass


class RunMismatch(Exception):
    pass


class CorruptRecord(InputFileError, ValueError):
    """A stage file line that is not a valid record, met by a reader (exit 2, naming file and line)."""


class RunFileError(InputFileError):
    """run.json (or another whole-file record of a run) cannot be read; exit 2, naming the file."""


def check_run_id(run_id: str) -> str:
    """A run id is a directory name: letters, digits, '.', '_', '-'; starting with a letter or digit."""
    if not run_id or len(run_id) > MAX_RUN_ID or not _RUN_ID.fullmatch(run_id):
        raise InputFileError(
            f"invalid run id {run_id!r}: use 1-{MAX_RUN_ID} letters, digits, '.', '_' or '-', starting "
            "with a letter or digit (it names a directory inside --results-dir)")
    return run_id


class RunStore:
    def __init__(self, run_dir: str | Path, files: StageFiles | None = None):
        self.dir = Path(run_dir)
        # The stage files, their record types and data flow: the registered stages' (plug-ins included).
        self.files = StageFiles() if files is None else files
        self.record_types = self.files.types
        self._lock_fd: int | None = None
        self._fds: dict[str, int] = {}
        self._paths: dict[str, Path] = {}  # the file each open descriptor writes
        self._unsynced: set[str] = set()  # stages with records written since their last fsync
        self._pending = 0
        self._synced_at = time.monotonic()

    # ---------------------------------------------------------- lifecycle
    def open(self) -> RunStore:
        lock = self.dir / ".lock"
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise WriteFailed(lock, exc) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunLocked(_holder(self.dir, lock)) from None
        self._lock_fd = fd
        _HELD[str(self.dir.resolve())] = (f"thread {threading.current_thread().name!r}, since "
                                          f"{dt.datetime.now().isoformat(timespec='seconds')}")
        try:
            os.ftruncate(fd, 0)
            write_all(fd, str(os.getpid()).encode(), lock)
            for stage in self.record_types:
                self._repair_tail(self.path(stage))
                self.path(stage).touch(exist_ok=True)  # every stage file exists, empty when nothing happened
            repair_run(self.dir, self.files)
        except OSError as exc:
            self.close()
            raise WriteFailed(lock.parent, exc) from None
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        try:
            self.sync()
        except WriteFailed:
            pass  # closing after a failure: the error already raised names the file
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        self._paths.clear()
        if self._lock_fd is not None:
            _HELD.pop(str(self.dir.resolve()), None)
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> RunStore:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------- files
    def path(self, stage: str) -> Path:
        """The stage's file; in a run directory written before the stage was renamed, its file there."""
        path = self.dir / f"{stage}.jsonl"
        if not path.exists():
            older = (self.dir / f"{name}.jsonl" for name in self.files.former.get(stage, ()))
            return next((p for p in older if p.exists()), path)
        return path

    @staticmethod
    def _repair_tail(path: Path) -> None:
        """Drop a partial last line left by a crash mid-write."""
        if not path.exists() or path.stat().st_size == 0:
            return
        try:
            with path.open("rb+") as fh:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) == b"\n":
                    return
                fh.seek(0)
                fh.truncate(fh.read().rfind(b"\n") + 1)
        except OSError as exc:
            raise WriteFailed(path, exc) from None

    def append(self, stage: str, record: Record) -> None:
        line = (record.model_dump_json() + "\n").encode("utf-8")
        fd = self._fds.get(stage)
        if fd is None:
            path = self._paths[stage] = self.path(stage)  # looked up once: the open file is written from here on
            try:
                fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            except OSError as exc:
                raise WriteFailed(path, exc) from None
            self._fds[stage] = fd
        write_all(fd, line, self._paths[stage], sync=False)
        self._unsynced.add(stage)
        self._pending += 1
        if self._pending >= SYNC_EVERY or time.monotonic() - self._synced_at >= SYNC_S:
            self.sync()

    def sync(self) -> None:
        """fsync every stage file written since the last sync."""
        order = {name: i for i, name in enumerate(self.record_types)}  # upstream files first
        for stage in sorted(self._unsynced, key=lambda name: order.get(name, len(order))):
            try:
                os.fsync(self._fds[stage])
            except OSError as exc:
                raise WriteFailed(self._paths[stage], exc) from None
            self._unsynced.discard(stage)
        self._pending, self._synced_at = 0, time.monotonic()

    def iter_records(self, stage: str) -> Iterator[Record]:
        """Every record of a stage. A corrupt line raises CorruptRecord naming file and line; a
        store opened for writing has already moved such lines aside (store/repair.py)."""
        path = self.path(stage)
        if not path.exists():
            return
        cls = self.record_types[stage]
        for lineno, raw in iter_lines(path):
            record, why = parse_line(raw, cls)
            if record is None:
                raise CorruptRecord(f"{path}:{lineno}: {why} (a run of the same --run-id moves such lines aside)")
            yield record

    def load_latest(self, stage: str) -> dict[str, Record]:
        """The last record of each sample in a stage (later records supersede earlier ones)."""
        return {rec.key: rec for rec in self.iter_records(stage)}

    # ---------------------------------------------------------- spec and summary
    def read_json(self, name: str) -> dict[str, Any] | None:
        """A whole-file JSON object of the run (run.json, summary.json), None if absent."""
        path = self.dir / name
        if not path.exists():
            return None
        try:
            data = loads_bounded(path.read_bytes().decode("utf-8"), str(path))
        except UnicodeDecodeError as exc:
            raise RunFileError(f"{path}: not valid UTF-8 (byte {exc.start}); {_fix_hint(name)}") from None
        except InputFileError as exc:
            raise RunFileError(f"{exc}; {_fix_hint(name)}") from None
        except OSError as exc:
            raise RunFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
        if not isinstance(data, dict):
            raise RunFileError(f"{path}: expected a JSON object, got {type(data).__name__}; {_fix_hint(name)}")
        return data

    def write_scores(self, rows: list[dict[str, Any]]) -> None:
        """Per-answer metrics (a derived report, rewritten whole at the end of each invocation)."""
        data = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        replace_file(self.dir / "scores.jsonl", data.encode("utf-8"))

    def read_scores(self) -> list[dict[str, Any]]:
        path = self.dir / "scores.jsonl"
        if not path.exists():
            return []
        rows = []
        for lineno, raw in iter_lines(path):
            try:
                rows.append(loads_bounded(raw.decode("utf-8"), f"{path}:{lineno}"))
            except (UnicodeDecodeError, InputFileError) as exc:
                print(f"warning: {path}:{lineno}: skipped ({exc})", file=sys.stderr)
        return rows

    def write_json(self, name: str, data: dict[str, Any]) -> None:
        text = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
        replace_file(self.dir / name, text.encode("utf-8"))

    def read_spec(self) -> RunSpec | None:
        return self._read_model("run.json", RunSpec)

    def write_spec(self, spec: RunSpec) -> None:
        self.write_json("run.json", spec.model_dump(mode="json"))

    def read_summary(self) -> RunSummary | None:
        return self._read_model("summary.json", RunSummary)

    def write_summary(self, summary: RunSummary) -> None:
        self.write_json("summary.json", summary.model_dump(mode="json"))

    def _read_model(self, name: str, model: type[T]) -> T | None:
        data = self.read_json(name)
        if data is None:
            return None
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ())) or "top level"
            raise RunFileError(f"{self.dir / name}: {first.get('msg', 'invalid')} at {where}; "
                               f"{_fix_hint(name)}") from None


def _holder(run_dir: Path, lock: Path) -> str:
    """Who holds a run directory's lock, for RunLocked: this process (with the thread), or another."""
    here = _HELD.get(str(run_dir.resolve()))
    if here is not None:
        return (f"{run_dir} is in use by this process ({here}): an earlier run of it is still going or "
                "stopping; wait for it to end (interrupting it stops it within seconds), then run again")
    try:
        pid = lock.read_text().strip()
    except OSError:
        pid = ""
    who = f"pid {pid}, " if pid.isdigit() else ""
    return f"{run_dir} is in use by another factbench process ({who}lock {lock})"


def _fix_hint(name: str) -> str:
    if name == "run.json":
        return "it records the run's configuration: restore it from a copy, or start again with a new --run-id"
    return f"{name} is derived: delete it and re-run with the same --run-id to rebuild it"
