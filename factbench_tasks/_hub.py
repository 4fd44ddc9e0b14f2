"""Shared loading helpers for built-in tasks: local data directory first, then the Hub."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from factbench.store.jsonl import read_jsonl
from factbench.tasks import DataContext, TaskDataUnavailable


def jsonl_rows(path: Path) -> list[dict[str, Any]]:
    return [obj for _, obj in read_jsonl(path)]


def hub_rows(ctx: DataContext, repo: str, revision: str, data_files: str, local_hint: str) -> list[dict[str, Any]]:
    """Rows of a Hub dataset file at a pinned revision (through `datasets`)."""
    if ctx.offline:
        raise TaskDataUnavailable(f"not in the data directory ({local_hint}) and the Hub is disabled (offline)")
    try:
        import datasets  # heavy: imported only when a task really needs the Hub

        ds = datasets.load_dataset(repo, data_files=data_files, revision=revision, split="train")
    except Exception as exc:  # network, auth, missing file: all mean "not available here"
        reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise TaskDataUnavailable(
            f"not in the data directory ({local_hint}) and download of {repo}@{revision[:12]} failed: {reason}"
        ) from exc
    return [dict(row) for row in ds]
