"""Content-addressed SQLite cache of LLM calls and web searches (WAL, safe for several processes
on one machine; refused on a network filesystem, where WAL is not safe).

The key is a hash of everything that changes the output (model id, pinned revision, every
generation parameter, the messages, the prompt-template version); endpoints and transport
knobs such as timeouts and concurrency are never part of it. API keys are never stored.

A damaged cache file (truncated, overwritten, a bad header) is found when the cache is opened
(SQLite's quick_check, about 0.1 s per 128 MB), moved aside with a warning naming both paths,
and replaced by an empty cache. Damage found later, or a full disk, stops the run (exit 2)
with the path; it is never recorded as a failure of the samples that happened to hit it.
"""

from __future__ import annotations

import errno
import json
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from factbench.errors import RunAborted
from factbench.hashing import sha256_hex
from factbench.store.files import WriteFailed, disk_is_full

DEFAULT_CACHE_ENV = "FACTBENCH_CACHE"


def connect_wal(path: Path) -> sqlite3.Connection:
    """A connection to `path` in write-ahead-log mode. Switching the journal mode can answer
    "database is locked" at once, without SQLite's busy wait, while another process creates the
    file; so that switch is retried for up to the same 30 s the busy timeout gives a write."""
    conn = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    deadline = time.monotonic() + 30
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            contended = "locked" in str(exc) or "busy" in str(exc)
            if not contended or time.monotonic() > deadline:
                conn.close()
                raise
            time.sleep(0.02)
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction, taking the write lock first (BEGIN IMMEDIATE waits on it): a killed
    writer leaves none or all of its statements."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def create_tables(conn: sqlite3.Connection, statements: list[str]) -> None:
    """Run `statements` (CREATE ... IF NOT EXISTS) in one write transaction, so two processes
    opening a new file at once do not fail: in autocommit, a schema read followed by a write
    fails at once when another process changed the schema in between."""
    with write_transaction(conn):
        for sql in statements:
            conn.execute(sql)


def insert_all(conn: sqlite3.Connection, sql: str, rows: list[tuple]) -> None:
    """`rows` written in one transaction: a killed writer leaves none or all of them."""
    with write_transaction(conn):
        conn.executemany(sql, rows)


def default_cache_path() -> Path:
    env = os.environ.get(DEFAULT_CACHE_ENV)
    if env:
        return Path(env).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "factbench" / "cache.sqlite"


def cache_key(namespace: str, payload: dict[str, Any]) -> str:
    return sha256_hex({"ns": namespace, **payload})


class CacheUnusable(RunAborted):
    """The cache file went bad while in use; exit 2, naming it."""

    exit_code = 2


class CacheOnNetworkFilesystem(CacheUnusable):
    """SQLite's WAL needs shared memory between the processes using a file, which a network
    filesystem does not give: the cache is refused there (exit 2), never opened in another mode."""


# Filesystem types (as /proc/mounts names them) where processes on several machines may share a
# file: SQLite's WAL is unsafe on them.
NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb", "smb3", "smbfs", "lustre", "gpfs", "beegfs", "ceph", "glusterfs", "afs",
    "9p", "ocfs2", "gfs2", "fuse.sshfs", "fuse.ceph", "fuse.glusterfs", "fuse.s3fs", "fuse.gcsfuse",
    "fuse.juicefs", "fuse.rclone", "fuse.beegfs", "fuse.lustre",
})


def _unescape_mount(field: str) -> str:
    """/proc/mounts writes space, tab, newline and backslash in paths as octal escapes."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def filesystem_type(path: Path, mounts: str = "/proc/mounts") -> str | None:
    """The type of the filesystem holding `path` (the longest mount point above it), or None
    where the mount table cannot be read (not Linux). The one place the type is looked up."""
    try:
        table = Path(mounts).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    target = os.path.realpath(path)
    best, kind = "", None
    for line in table.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = _unescape_mount(fields[1])
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind


def refuse_network_filesystem(path: Path, what: str = "the call cache") -> None:
    """Raise CacheOnNetworkFilesystem when `path`'s folder is on a network filesystem (`what`: the
    file's name in the message)."""
    kind = filesystem_type(path.parent)
    if kind and (kind in NETWORK_FILESYSTEMS or kind.split(".")[0] in NETWORK_FILESYSTEMS):
        raise CacheOnNetworkFilesystem(
            f"{what} {path} is on a network filesystem ({kind}), where SQLite's write-ahead log is not "
            "safe for several processes or machines; put the cache on a local disk: --cache /local/disk/"
            f"factbench.sqlite (or {DEFAULT_CACHE_ENV}=...; one file per node), or run with --no-cache")


_SQLITE_HEADER = b"SQLite format 3\x00"
_SIDE_FILES = ("-wal", "-shm")


def check_cache_file(path: Path) -> str | None:
    """What is wrong with an existing cache file, or None if it is sound (or absent)."""
    if not path.exists() or path.stat().st_size == 0:
        return None
    with path.open("rb") as fh:
        if fh.read(len(_SQLITE_HEADER)) != _SQLITE_HEADER:
            return "not an SQLite database (bad header)"
    try:
        conn = sqlite3.connect(path, timeout=30)
        try:
            rows = conn.execute("PRAGMA quick_check").fetchall()
            if rows != [("ok",)]:
                return f"integrity check failed: {rows[0][0] if rows else 'no answer'}"
            conn.execute("SELECT name FROM sqlite_master LIMIT 1").fetchall()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return None


def move_aside(path: Path) -> Path:
    """Rename a damaged cache (and its WAL files, which belong to it) out of the way."""
    target = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    for suffix in ("",) + _SIDE_FILES:
        side = Path(f"{path}{suffix}")
        if side.exists():
            side.replace(Path(f"{target}{suffix}"))
    return target


class CallCache:
    """A key -> JSON value store. One connection per thread; writes are single statements."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WriteFailed(self.path.parent, exc) from None
        refuse_network_filesystem(self.path)
        problem = check_cache_file(self.path)
        if problem:
            moved = move_aside(self.path)
            print(f"warning: the call cache {self.path} is damaged ({problem}); moved it to {moved} and "
                  "started an empty cache (--no-cache runs without one)", file=sys.stderr)
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []  # every thread's connection, so close() ends them all
        self._opened_lock = threading.Lock()
        with self._guard("open"):
            create_tables(self._conn(), [
                "CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, namespace TEXT NOT NULL, "
                "value TEXT NOT NULL, created REAL NOT NULL)"])

    def _guard(self, what: str) -> _Guard:
        return _Guard(self.path, what)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect_wal(self.path)
            self._local.conn = conn
            with self._opened_lock:
                self._opened.append(conn)
        return conn

    def get(self, key: str) -> Any | None:
        with self._guard("read"):
            row = self._conn().execute("SELECT value FROM calls WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        try:
            return json.loads(row[0])
        except ValueError:  # a damaged value: a miss, and the call is made again
            return None

    def put(self, key: str, namespace: str, value: Any) -> None:
        with self._guard("write"):
            self._conn().execute(
                "INSERT OR REPLACE INTO calls (key, namespace, value, created) VALUES (?, ?, ?, ?)",
                (key, namespace, json.dumps(value, ensure_ascii=False), time.time()),
            )

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        """The stored values among `keys` (one query per 500 keys; a damaged value is a miss)."""
        out: dict[str, Any] = {}
        unique = list(dict.fromkeys(keys))
        with self._guard("read"):
            for i in range(0, len(unique), 500):
                chunk = unique[i:i + 500]
                rows = self._conn().execute(
                    f"SELECT key, value FROM calls WHERE key IN ({','.join('?' * len(chunk))})", chunk).fetchall()
                for key, value in rows:
                    try:
                        out[key] = json.loads(value)
                    except ValueError:
                        pass
        return out

    def put_many(self, namespace: str, items: dict[str, Any]) -> None:
        """Store several values in one short transaction (a killed writer leaves none or all): one
        commit instead of one per value, and the write lock is held only for the inserts."""
        if not items:
            return
        now = time.time()
        rows = [(k, namespace, json.dumps(v, ensure_ascii=False), now) for k, v in items.items()]
        with self._guard("write"):
            insert_all(self._conn(), "INSERT OR REPLACE INTO calls (key, namespace, value, created) VALUES (?, ?, ?, ?)",
                       rows)

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
        """Close every thread's connection now (not whenever they are garbage-collected)."""
        with self._opened_lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()
        self._local = threading.local()


class _Guard:
    """Turns SQLite failures into run-stopping errors that name the file (`name`: what it is;
    `without`: the option that runs without it)."""

    def __init__(self, path: Path, what: str, name: str = "the call cache", without: str = "--no-cache"):
        self.path, self.what, self.name, self.without = path, what, name, without

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: object) -> None:
        if not isinstance(exc, sqlite3.DatabaseError):
            return
        message = str(exc)
        if "full" in message or disk_is_full(self.path):  # SQLITE_FULL, or an I/O error on a full disk
            raise WriteFailed(self.path, OSError(errno.ENOSPC, message)) from None
        raise CacheUnusable(f"{self.name} {self.path} failed on {self.what}: {message}; re-run (a damaged "
                            f"file is then moved aside) or use {self.without}") from None
