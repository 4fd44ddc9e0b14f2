"""Reading JSON/JSONL input files with errors that name the file and line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class InputFileError(Exception):
    """A malformed input file; the message names the file and, where known, the line."""


def read_jsonl(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; raise InputFileError on bad lines."""
    file = Path(path)
    try:
        handle = file.open("rb")
    except OSError as exc:
        raise InputFileError(f"{file}: cannot open: {exc.strerror or exc}") from exc
    with handle:
        for lineno, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputFileError(f"{file}:{lineno}: not valid UTF-8 (byte {exc.start})") from exc
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputFileError(f"{file}:{lineno}: invalid JSON: {exc.msg} (column {exc.colno})") from exc
            if not isinstance(obj, dict):
                raise InputFileError(f"{file}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            yield lineno, obj


def read_json(path: str | Path) -> Any:
    file = Path(path)
    try:
        return json.loads(file.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise InputFileError(f"{file}: cannot open: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{file}: not valid UTF-8 (byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise InputFileError(f"{file}:{exc.lineno}: invalid JSON: {exc.msg}") from exc

