"""Shared loading helpers for built-in tasks: the data directory first, then a pinned download."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from factbench.store.jsonl import read_jsonl
from factbench.taskdata import DataFile, remote_rows
from factbench.tasks import DataContext


def jsonl_rows(path: Path) -> list[dict[str, Any]]:
    return [obj for _, obj in read_jsonl(path)]


def hub_rows(ctx: DataContext, datafile: DataFile, task_name: str) -> list[dict[str, Any]]:
    """Rows of a published file that is not in the data directory: downloaded at its pinned
    revision (kept in the download cache); offline, TaskDataUnavailable at once."""
    return remote_rows(datafile, task_name, ctx.offline)
