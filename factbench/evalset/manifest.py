"""The eval-set manifest: a TOML file whose top-level keys are defaults for every run and whose
`[[runs]]` tables each hold the keywords of one `factbench.evaluate()` call.

Keys are checked against evaluate()'s own signature and its options model before anything runs,
and every problem names the file, the line and the key, so a typo in run 73 of 100 is found in a
second rather than after 72 runs.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

# Keys naming files: a relative path is taken from the manifest's folder (jobs may run elsewhere).
PATH_KEYS = ("responses", "data_dir", "cache")
# Keys eval-set sets itself: where runs live (--out) and how cells are split (--shards-per-cell).
RESERVED = {"results_dir": "eval-set writes every run under --out",
            "shard": "eval-set splits cells itself (--shards-per-cell)"}


class ManifestError(ValueError):
    """A manifest that cannot run (exit 2). The message names file, line and key."""


@dataclass(frozen=True)
class RunEntry:
    """One `[[runs]]` table merged over the defaults: its run id, task names and evaluate() keywords."""

    run_id: str
    tasks: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)  # every other evaluate() keyword


@dataclass(frozen=True)
class Manifest:
    path: Path
    runs: tuple[RunEntry, ...]


def allowed_keys() -> set[str]:
    """evaluate()'s named parameters plus the option fields its **options take."""
    from factbench.api import evaluate
    from factbench.pipeline.options import RunOptions

    params = {n for n, p in inspect.signature(evaluate).parameters.items() if p.kind is not p.VAR_KEYWORD}
    return (params | RunOptions.keywords()) - set(RESERVED)


def load_manifest(path: str | Path, flags: Mapping[str, argparse.Action]) -> Manifest:
    """Read and check a manifest; raise ManifestError naming file, line and key on any problem.
    `flags` are `factbench run`'s flag actions by keyword: their types hold the ranges (--limit >= 1, ...)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: cannot read the manifest: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{path}: not valid TOML: {exc}") from None
    return Manifest(path, tuple(_entries(path, text, data, flags)))


def _entries(path: Path, text: str, data: dict[str, Any], flags: Mapping[str, argparse.Action]) -> list[RunEntry]:
    where = _Locator(path, text)
    allowed = allowed_keys()
    runs = data.pop("runs", None)
    if not isinstance(runs, list) or not runs or not all(isinstance(r, dict) for r in runs):
        raise ManifestError(f"{path}: needs at least one [[runs]] table (each holding evaluate() keywords such as "
                            "run_id, model, step)")
    for key in data:
        _check_key(where, key, None, allowed)
    entries: list[RunEntry] = []
    seen: dict[str, int] = {}
    for index, table in enumerate(runs):
        for key in table:
            _check_key(where, key, index, allowed)
        merged = {**data, **table}
        run_id = merged.pop("run_id", None)
        if not isinstance(run_id, str) or not run_id:
            raise ManifestError(f"{where.at('run_id', index)}: key 'run_id' is missing: every run needs one "
                                "(a directory name)")
        if run_id in seen:
            raise ManifestError(f"{where.at('run_id', index)}: key 'run_id': {run_id!r} is already used by the run at "
                                f"line {seen[run_id]}")
        seen[run_id] = where.line("run_id", index)
        tasks = _task_names(where, merged.pop("tasks", None), index)
        for key in PATH_KEYS:
            if isinstance(merged.get(key), str) and merged[key]:
                merged[key] = str((path.parent / Path(merged[key]).expanduser()).resolve())
        _check_values(where, index, run_id, merged, flags)
        entries.append(RunEntry(run_id, tasks, merged))
    return entries


def _check_key(where: _Locator, key: str, index: int | None, allowed: set[str]) -> None:
    if key in RESERVED:
        raise ManifestError(f"{where.at(key, index)}: key {key!r} cannot be set in a manifest: {RESERVED[key]}")
    if key not in allowed:
        near = _closest(key, allowed)
        hint = f" (did you mean {near!r}?)" if near else ""
        raise ManifestError(f"{where.at(key, index)}: unknown key {key!r}{hint}; keys are factbench.evaluate() "
                            "keywords (docs/eval-set.md)")


def _task_names(where: _Locator, value: Any, index: int) -> tuple[str, ...]:
    from factbench.tasks import TaskError, resolve_tasks

    if value is None:
        raise ManifestError(f"{where.at('tasks', index)}: key 'tasks' is missing: set it at the top or in the run")
    if isinstance(value, str):
        selector = value
    elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        selector = ",".join(value)
    else:
        raise ManifestError(f"{where.at('tasks', index)}: key 'tasks' is a string or a list of task names")
    try:
        return tuple(t.name for t in resolve_tasks(selector))
    except TaskError as exc:
        raise ManifestError(f"{where.at('tasks', index)}: key 'tasks': {exc}") from None


def _check_values(where: _Locator, index: int, run_id: str, merged: dict[str, Any],
                  flags: Mapping[str, argparse.Action]) -> None:
    """Check each value as its `factbench run` flag would, then build the options model the run
    will build, so a wrong type or value fails now rather than when its cell starts."""
    from factbench.pipeline.options import RunOptions, UsageError
    from factbench.store.jsonl import InputFileError

    for key, value in merged.items():
        action = flags.get(key)
        if action is None or value is None or isinstance(value, (bool, list, dict)):
            continue
        try:
            checked = action.type(str(value)) if callable(action.type) else value
        except (argparse.ArgumentTypeError, ValueError) as exc:
            raise ManifestError(f"{where.at(key, index)}: key {key!r} = {value!r}: {exc}") from None
        if action.choices is not None and checked not in action.choices:
            raise ManifestError(f"{where.at(key, index)}: key {key!r} = {value!r}: choose from "
                                f"{', '.join(map(str, action.choices))}")

    try:
        RunOptions(run_id=run_id, **merged).role_specs(with_model=True)
    except UsageError as exc:  # a role without a model: name the key it needs
        key = "judge" if "judge" in str(exc) else "model"
        raise ManifestError(f"{where.at(key, index)}: key {key!r}: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        key = str(first["loc"][0]) if first.get("loc") else "run_id"
        message = first["msg"].removeprefix("Value error, ")
        raise ManifestError(f"{where.at(key, index)}: key {key!r} = {merged.get(key, run_id)!r}: {message}") from None
    except (ValueError, InputFileError) as exc:  # e.g. a bad run id, raised inside a validator
        raise ManifestError(f"{where.at('run_id', index)}: key 'run_id': {exc}") from None


def _closest(key: str, allowed: set[str]) -> str | None:
    import difflib

    found = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.75)
    return found[0] if found else None


_HEADER = re.compile(r"^\s*\[")
_RUNS_HEADER = re.compile(r"^\s*\[\[\s*runs\s*\]\]")


class _Locator:
    """Finds the line of a key in the manifest text: top-level keys before the first table,
    run keys between their `[[runs]]` header and the next header."""

    def __init__(self, path: Path, text: str):
        self.path = path
        self.lines = text.splitlines()
        self.runs = [n for n, line in enumerate(self.lines) if _RUNS_HEADER.match(line)]

    def _span(self, index: int | None) -> tuple[int, int]:
        if index is None or index >= len(self.runs):
            end = next((n for n, line in enumerate(self.lines) if _HEADER.match(line)), len(self.lines))
            return 0, end
        start = self.runs[index]
        end = next((n for n in range(start + 1, len(self.lines)) if _HEADER.match(self.lines[n])), len(self.lines))
        return start, end

    def line(self, key: str, index: int | None) -> int:
        """1-based line of `key` in run `index` (None: top level); where the key would be
        inherited from the top level, that line; else the run's header line."""
        pattern = re.compile(rf"^\s*(?:{re.escape(key)}|\"{re.escape(key)}\"|'{re.escape(key)}')\s*=")
        start, end = self._span(index)
        for n in range(start, end):
            if pattern.match(self.lines[n]):
                return n + 1
        if index is not None:
            return self.line(key, None) if self._has_top(pattern) else start + 1
        return 1

    def _has_top(self, pattern: re.Pattern[str]) -> bool:
        start, end = self._span(None)
        return any(pattern.match(self.lines[n]) for n in range(start, end))

    def at(self, key: str, index: int | None) -> str:
        return f"{self.path}:{self.line(key, index)}" + ("" if index is None else f" (run {index + 1})")
