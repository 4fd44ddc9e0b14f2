"""Corrupt lines in a run's stage files: found, moved aside, and their samples redone.

A stage file can be damaged anywhere (a disk error, an editor, a copy cut short): garbage,
half a line, NUL bytes, invalid UTF-8, a record missing a field. When a run directory is
opened for writing, every line is checked; bad lines go to `<stage>.jsonl.corrupt` (appended,
with the line number they had), the stage file is rewritten without them, and a warning names
the file and line. The samples concerned then lack that stage and are redone by the resume.
Records of later stages that were built on a removed record (verdicts on claims that are gone)
are moved aside too, so that nothing is scored against a redone, possibly different, input:
which files a stage's records are built on is what the stage declares it reads (`StageFiles`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from factbench.store.files import append_bytes, replace_file
from factbench.store.records import Record, StageFiles

MAX_WARNINGS = 5  # per file; the rest are counted


def parse_line(raw: bytes, cls: type[Record]) -> tuple[Record | None, str]:
    """(record, "") for a good line, (None, why) for a corrupt one."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not valid UTF-8 (byte {exc.start})"
    try:
        return cls.model_validate_json(text), ""
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "record"
        return None, f"{first.get('msg', 'invalid')} ({where})"
    except (ValueError, RecursionError) as exc:
        return None, f"not a record: {exc}"[:120]


def iter_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line number, bytes without the newline) for every non-blank line."""
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            raw = raw.rstrip(b"\r\n")
            if raw.strip():
                yield lineno, raw


def repair_run(dir: Path, files: StageFiles) -> int:
    """Move corrupt and orphaned lines of every stage file aside; return how many were moved."""
    kept_keys: dict[str, set[str]] = {}
    damaged: set[str] = set()  # files that lost lines: records built on them are checked
    moved_total = 0
    for stage, cls in files.types.items():
        path = next((p for p in (dir / f"{n}.jsonl" for n in (stage, *files.former.get(stage, ()))) if p.exists()),
                    dir / f"{stage}.jsonl")
        if not path.exists():
            kept_keys[stage] = set()
            continue
        upstream = [u for u in files.built_on.get(stage, ()) if u in damaged]
        good: list[bytes] = []
        bad: list[tuple[int, bytes, str]] = []
        keys: set[str] = set()
        for lineno, raw in iter_lines(path):
            record, why = parse_line(raw, cls)
            if record is not None:
                gone = next((u for u in upstream if record.key not in kept_keys.get(u, set())), None)
                if gone is not None:
                    record, why = None, f"built on a {gone} record that was moved aside"
            if record is None:
                bad.append((lineno, raw, why))
            else:
                good.append(raw)
                keys.add(record.key)
        kept_keys[stage] = keys
        if bad:
            damaged.add(stage)
            _move_aside(path, good, bad)
            moved_total += len(bad)
    return moved_total


def _move_aside(path: Path, good: list[bytes], bad: list[tuple[int, bytes, str]]) -> None:
    aside = path.with_name(path.name + ".corrupt")
    append_bytes(aside, b"".join(b"%d\t%s\n" % (lineno, raw) for lineno, raw, _ in bad))
    replace_file(path, b"".join(line + b"\n" for line in good))
    redo = "" if path.name == "errors.jsonl" else ", the sample's stage will be redone"
    for lineno, _, why in bad[:MAX_WARNINGS]:
        print(f"warning: {path}:{lineno}: {why}; moved to {aside}{redo}", file=sys.stderr)
    if len(bad) > MAX_WARNINGS:
        print(f"warning: {path}: {len(bad) - MAX_WARNINGS} more lines moved to {aside}", file=sys.stderr)
