"""Task data files: where each is published (at a pinned revision), downloading it, and failing
fast without a network.

Every built-in task lists its files as :class:`DataFile` objects. `factbench data fetch` writes
them into a data directory in the layout the loaders read (docs/tasks.md), so a machine without
a network can run with `--data-dir`. Where a loader falls back to a download at run time, the same
code is used, and offline (HF_HUB_OFFLINE=1, or the host does not answer within seconds) it fails
at once with one line saying where to put the file.
"""

from __future__ import annotations

import csv
import io
import json
import os
import socket
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from factbench.store.jsonl import read_json, read_jsonl

HOSTS = {  # base URL of each host, overridable (a mirror, or a local stand-in in tests)
    "hf": ("HF_ENDPOINT", "https://huggingface.co"),
    "github": ("FACTBENCH_GITHUB_RAW", "https://raw.githubusercontent.com"),
}
CONNECT_TIMEOUT_S = 3.0
DOWNLOAD_TIMEOUT_S = 120.0


class TaskDataUnavailable(Exception):
    """A task's data is not present locally and could not be downloaded."""


class DataFetchError(Exception):
    """A file could not be downloaded (usage-level error: names the URL and why)."""


@dataclass(frozen=True)
class DataFile:
    """One published file of a task: host (`hf` dataset or `github` repo), repo, pinned revision,
    the file's path in the repo, and where it goes under the data directory."""

    host: str
    repo: str
    revision: str
    file: str
    path: str

    def url(self) -> str:
        var, default = HOSTS[self.host]
        base = os.environ.get(var, default).rstrip("/")
        if self.host == "hf":
            return f"{base}/datasets/{self.repo}/resolve/{self.revision}/{self.file}"
        return f"{base}/{self.repo}/{self.revision}/{self.file}"

    def hint(self) -> str:
        return f"<data-dir>/{self.path}"


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE") == "1" or os.environ.get("HF_DATASETS_OFFLINE") == "1"


def fetch_command(task_name: str) -> str:
    return f"`factbench data fetch {task_name} --to DIR` where a network exists, then --data-dir DIR"


@lru_cache(maxsize=16)
def _reachable(host: str, port: int) -> str | None:
    """None when a TCP connection to host:port opens within CONNECT_TIMEOUT_S, else why not."""
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            return None
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def unreachable(url: str) -> str | None:
    """Why `url`'s host cannot be reached (checked once per process), or None."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return _reachable(parts.hostname or "", port)


def download(datafile: DataFile, dest: Path) -> Path:
    """Download one file to `dest` (atomically: a partial download never looks complete)."""
    import httpx

    url = datafile.url()
    why = unreachable(url)
    if why:
        raise DataFetchError(f"cannot reach {url} ({why})")
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=DOWNLOAD_TIMEOUT_S) as resp:
            if resp.status_code != 200:
                raise DataFetchError(f"GET {url}: HTTP {resp.status_code}")
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(dest.name + ".part")
            with tmp.open("wb") as out:
                for chunk in resp.iter_bytes():
                    out.write(chunk)
    except httpx.HTTPError as exc:
        raise DataFetchError(f"GET {url}: {type(exc).__name__}: {exc}") from exc
    tmp.replace(dest)
    return dest


def fetch(files: tuple[DataFile, ...], to: Path, force: bool = False) -> list[tuple[str, str]]:
    """Write every file into the data directory `to`; (path, 'downloaded'|'present') per file."""
    done = []
    for datafile in files:
        dest = to / datafile.path
        if dest.is_file() and not force:
            done.append((datafile.path, "present"))
            continue
        download(datafile, dest)
        done.append((datafile.path, "downloaded"))
    return done


def download_cache_dir() -> Path:
    """Where run-time downloads are kept (a data directory of its own layout)."""
    env = os.environ.get("FACTBENCH_DATA_CACHE")
    return Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "factbench" / "data"


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a .json (a list), .jsonl or .csv file."""
    if path.suffix == ".csv":
        return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    if path.suffix == ".jsonl":
        return [obj for _, obj in read_jsonl(path)]
    rows = read_json(path)
    if not isinstance(rows, list):
        raise DataFetchError(f"{path}: expected a JSON list of rows")
    return rows


def remote_rows(datafile: DataFile, task_name: str, is_offline: bool = False) -> list[dict[str, Any]]:
    """A file not in the data directory: from the download cache, else downloaded into it.
    Offline or unreachable: TaskDataUnavailable at once, with one line saying where to put it."""
    cached = download_cache_dir() / datafile.path
    if not cached.is_file():
        why = "offline (HF_HUB_OFFLINE=1)" if offline() else "offline" if is_offline else unreachable(datafile.url())
        if why:
            raise TaskDataUnavailable(f"{datafile.hint()} is missing and {datafile.url()} cannot be reached "
                                      f"({why}); put the file there, or run {fetch_command(task_name)}")
        try:
            download(datafile, cached)
        except DataFetchError as exc:
            raise TaskDataUnavailable(f"{datafile.hint()} is missing and the download failed ({exc}); "
                                      f"put the file there, or run {fetch_command(task_name)}") from exc
    try:
        return read_rows(cached)
    except (ValueError, json.JSONDecodeError, DataFetchError) as exc:
        raise TaskDataUnavailable(f"{cached} (downloaded for {task_name}) is not readable: {exc}") from exc
