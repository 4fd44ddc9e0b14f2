"""Content-addressed SQLite cache of LLM calls and web searches (WAL, safe for several processes).

The key is a hash of everything that changes the output (model id, pinned revision, every
generation parameter, the messages, the prompt-template version); endpoints and transport
knobs such as timeouts and concurrency are never part of it. API keys are never stored.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from factbench.hashing import sha256_hex

DEFAULT_CACHE_ENV = "FACTBENCH_CACHE"


def default_cache_path() -> Path:
    env = os.environ.get(DEFAULT_CACHE_ENV)
    if env:
        return Path(env).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "factbench" / "cache.sqlite"


def cache_key(namespace: str, payload: dict[str, Any]) -> str:
    return sha256_hex({"ns": namespace, **payload})


class CallCache:
    """A key -> JSON value store. One connection per thread; writes are single statements."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._conn() as conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, namespace TEXT NOT NULL, "
                "value TEXT NOT NULL, created REAL NOT NULL)"
            )

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def get(self, key: str) -> Any | None:
        row = self._conn().execute("SELECT value FROM calls WHERE key = ?", (key,)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, key: str, namespace: str, value: Any) -> None:
        self._conn().execute(
            "INSERT OR REPLACE INTO calls (key, namespace, value, created) VALUES (?, ?, ?, ?)",
            (key, namespace, json.dumps(value, ensure_ascii=False), time.time()),
        )

    def stats(self) -> dict[str, Any]:
        conn = self._conn()
        rows = conn.execute("SELECT namespace, COUNT(*), SUM(LENGTH(value)) FROM calls GROUP BY namespace").fetchall()
        size = self.path.stat().st_size if self.path.exists() else 0
        return {
            "path": str(self.path),
            "entries": sum(r[1] for r in rows),
            "bytes_on_disk": size,
            "by_namespace": {r[0]: {"entries": r[1], "value_bytes": r[2] or 0} for r in rows},
        }

    def clear(self, namespace: str | None = None) -> int:
        conn = self._conn()
        if namespace is None:
            n = conn.execute("DELETE FROM calls").rowcount
        else:
            n = conn.execute("DELETE FROM calls WHERE namespace = ?", (namespace,)).rowcount
        conn.execute("VACUUM")
        return n

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
