"""Reading JSON/JSONL input files with errors that name the file and line.

Nesting is bounded (`MAX_DEPTH`): a line nested 100,000 levels deep is an input error, not a
RecursionError somewhere later.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MAX_DEPTH = 64


class InputFileError(Exception):
    """A malformed input file; the message names the file and, where known, the line."""


def _too_deep(obj: Any) -> bool:
    stack = [(obj, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > MAX_DEPTH:
                return True
            stack.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return False


def loads_bounded(text: str, where: str) -> Any:
    """json.loads, with errors (bad JSON, nesting deeper than MAX_DEPTH) as InputFileError naming `where`."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        line = f":{exc.lineno}" if "\n" in text.rstrip("\n") else ""  # a whole file, not one JSONL line
        raise InputFileError(f"{where}{line}: invalid JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise InputFileError(f"{where}: JSON nested deeper than {MAX_DEPTH} levels") from None
    if _too_deep(obj):
        raise InputFileError(f"{where}: JSON nested deeper than {MAX_DEPTH} levels")
    return obj


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
            obj = loads_bounded(line, f"{file}:{lineno}")
            if not isinstance(obj, dict):
                raise InputFileError(f"{file}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            yield lineno, obj


def read_json(path: str | Path) -> Any:
    file = Path(path)
    try:
        return loads_bounded(file.read_bytes().decode("utf-8"), str(file))
    except OSError as exc:
        raise InputFileError(f"{file}: cannot open: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{file}: not valid UTF-8 (byte {exc.start})") from exc
