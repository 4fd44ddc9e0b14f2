"""The run directory: run.json (the spec), one append-only JSONL file per stage, a lock.

Records are appended one whole line per write and fsynced, so a crash loses at most the
line being written; a torn last line is dropped (and truncated) when the run is reopened.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from factbench.store.artefacts import RunSpec, RunSummary
from factbench.store.records import RECORD_TYPES, Record


class RunLocked(Exception):
    pass


class RunMismatch(Exception):
    pass


class RunStore:
    def __init__(self, run_dir: str | Path):
        self.dir = Path(run_dir)
        self._lock_fd: int | None = None
        self._fds: dict[str, int] = {}

    # ---------------------------------------------------------- lifecycle
    def open(self) -> RunStore:
        self.dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunLocked(f"{self.dir} is in use by another factbench process (lock {self.dir / '.lock'})") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd
        for stage in RECORD_TYPES:
            self._repair_tail(self.path(stage))
            self.path(stage).touch(exist_ok=True)  # every stage file exists, empty when nothing happened
        return self

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> RunStore:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---------------------------------------------------------- files
    def path(self, stage: str) -> Path:
        return self.dir / f"{stage}.jsonl"

    @staticmethod
    def _repair_tail(path: Path) -> None:
        """Drop a partial last line left by a crash mid-write."""
        if not path.exists() or path.stat().st_size == 0:
            return
        with path.open("rb+") as fh:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) == b"\n":
                return
            fh.seek(0)
            fh.truncate(fh.read().rfind(b"\n") + 1)

    def append(self, stage: str, record: Record) -> None:
        line = (record.model_dump_json() + "\n").encode("utf-8")
        fd = self._fds.get(stage)
        if fd is None:
            fd = os.open(self.path(stage), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            self._fds[stage] = fd
        os.write(fd, line)
        os.fsync(fd)

    def iter_records(self, stage: str) -> Iterator[Record]:
        path = self.path(stage)
        if not path.exists():
            return
        cls = RECORD_TYPES[stage]
        with path.open("r", encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield cls.model_validate_json(line)

    def load_latest(self, stage: str) -> dict[str, Record]:
        """The last record of each sample in a stage (later records supersede earlier ones)."""
        return {rec.key: rec for rec in self.iter_records(stage)}

    # ---------------------------------------------------------- spec and summary
    def read_json(self, name: str) -> dict[str, Any] | None:
        path = self.dir / name
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None

    def write_scores(self, rows: list[dict[str, Any]]) -> None:
        """Per-answer metrics (a derived report, rewritten whole at the end of each invocation)."""
        tmp = self.dir / ".scores.jsonl.tmp"
        with tmp.open("w", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
        os.replace(tmp, self.dir / "scores.jsonl")

    def read_scores(self) -> list[dict[str, Any]]:
        path = self.dir / "scores.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def write_json(self, name: str, data: dict[str, Any]) -> None:
        tmp = self.dir / f".{name}.tmp"
        tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False) + "\n", encoding="utf-8")
        os.replace(tmp, self.dir / name)

    def read_spec(self) -> RunSpec | None:
        data = self.read_json("run.json")
        return None if data is None else RunSpec.model_validate(data)

    def write_spec(self, spec: RunSpec) -> None:
        self.write_json("run.json", spec.model_dump(mode="json"))

    def read_summary(self) -> RunSummary | None:
        data = self.read_json("summary.json")
        return None if data is None else RunSummary.model_validate(data)

    def write_summary(self, summary: RunSummary) -> None:
        self.write_json("summary.json", summary.model_dump(mode="json"))
