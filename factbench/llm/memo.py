"""The verdict memo: verdicts of single claims, kept by what determines them, so that the
rollouts of one prompt (a GRPO or RLOO group) verify each distinct claim once, and the next
training step or checkpoint reuses what an earlier one judged.

Three layers:

- a persistent table, an SQLite file beside the call cache with the cache's rules (WAL,
  refused on a network filesystem, a damaged file moved aside, a full disk or a failure in use
  stops the run); every write is one transaction, so a killed process leaves whole entries only.
  Without a call cache (`--no-cache`) the table lives in memory for the life of the process;
- single flight, in process: a key being judged by one sample right now is awaited by any other
  sample that needs it, instead of being sent again. This is what makes the answers of one
  `score` call, scored concurrently, share their judgements without any grouping flag;
- one call for a group (`together`, with a window > 0: the Scorer's `memo_window`): the claims
  that answers of one prompt in flight still need judged go out in one call.

Only parsed judgements are stored; a failure resolves the waiters with nothing, and each of them
then judges the claim itself. A key holds everything that changes the judgement (the verdicts
stage builds them, :mod:`factbench.stages.verify`), so a changed judge model, template, parser,
decoding, evidence backend or passage is a different key, never a reuse.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import re
import sqlite3
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from factbench.hashing import sha256_hex
from factbench.llm.cache import (
    _Guard,
    check_cache_file,
    connect_wal,
    create_tables,
    insert_all,
    move_aside,
    refuse_network_filesystem,
)
from factbench.store.files import WriteFailed

_PUNCTUATION = re.compile(r"[^\w\s]", re.UNICODE)
_SPACE = re.compile(r"\s+")


@functools.lru_cache(maxsize=1 << 14)  # a claim is keyed for its verdict and for its class
def normalise_claim(text: str) -> str:
    """A claim as the memo keys it: case, whitespace and punctuation do not matter."""
    return _SPACE.sub(" ", _PUNCTUATION.sub(" ", text.casefold())).strip()


def memo_key(kind: str, parts: dict[str, Any]) -> str:
    """The key of one judgement: a hash of its kind and of everything that determines it."""
    return sha256_hex({"memo": kind, **parts}, 40)


def item_key(base: str, *parts: str) -> str:
    """The key of one item under a base key (`memo_key` of what the items share): cheap per claim."""
    return hashlib.sha256("\x1f".join((base, *parts)).encode("utf-8")).hexdigest()[:40]


def memo_path(cache_path: Path) -> Path:
    """Where the memo of a call cache lives: beside it, `<cache>.memo.sqlite`."""
    return cache_path.with_name(cache_path.name + ".memo.sqlite")


@dataclass
class Claimed:
    """What `VerdictMemo.claim` found for a list of keys."""

    hits: dict[str, Any] = field(default_factory=dict)  # stored (or already judged in this process)
    waits: dict[str, asyncio.Future] = field(default_factory=dict)  # being judged by another sample now
    owned: list[str] = field(default_factory=list)  # this caller judges them, then calls `settle`


class VerdictMemo:
    """Judgements by key, persistent or in memory, with single flight on the running event loop."""

    def __init__(self, path: str | Path | None = None, window_s: float = 0.0):
        self.path = Path(path) if path is not None else None
        # How long the first sample of a group with claims to judge waits for others of its group
        # (same judge and question) before the call goes out; 0: each sample judges its own claims.
        self.window_s = window_s
        self._open: dict[str, _Batch] = {}
        self.counts: Counter[str] = Counter()  # "<kind>_hits", "<kind>_misses", "<kind>_waits", "stored"
        self._inflight: dict[str, asyncio.Future] = {}
        self._memory: dict[str, Any] = {}
        self._books: dict[str, dict[str, dict]] = {}  # classes by book (judge and question): claim -> entry
        self._book_rows: dict[str, int] = {}  # per book, the last rowid read from the table
        self._next_batch: dict[tuple[int, str], _ClassBatch] = {}  # by event loop and book
        self._book_locks: dict[tuple[int, str], asyncio.Lock] = {}
        self._class_errors: dict[tuple[str, str], str] = {}  # the error kind of a claim the judge got wrong
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WriteFailed(self.path.parent, exc) from None
        refuse_network_filesystem(self.path, what="the verdict memo")
        problem = check_cache_file(self.path)
        if problem:
            moved = move_aside(self.path)
            print(f"warning: the verdict memo {self.path} is damaged ({problem}); moved it to {moved} and "
                  "started an empty one (--no-memo runs without it)", file=sys.stderr)
        with self._guard("open"):
            create_tables(self._conn(), [
                "CREATE TABLE IF NOT EXISTS memo (key TEXT PRIMARY KEY, kind TEXT NOT NULL, "
                "value TEXT NOT NULL, created REAL NOT NULL)",
                "CREATE TABLE IF NOT EXISTS classes (key TEXT PRIMARY KEY, book TEXT NOT NULL, "
                "value TEXT NOT NULL, created REAL NOT NULL)",
                "CREATE INDEX IF NOT EXISTS classes_book ON classes (book)"])

    @classmethod
    def beside(cls, cache: Any | None, window_s: float = 0.0) -> VerdictMemo:
        """The memo of a call cache (an in-memory one when there is no cache)."""
        return cls(memo_path(cache.path) if cache is not None else None, window_s)

    # ------------------------------------------------------------------ the table
    def _guard(self, what: str) -> _Guard:
        assert self.path is not None
        return _Guard(self.path, what, name="the verdict memo", without="--no-memo")

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            assert self.path is not None
            conn = connect_wal(self.path)
            self._local.conn = conn
            with self._lock:
                self._opened.append(conn)
        return conn

    def get_many(self, keys: list[str]) -> dict[str, Any]:
        """The stored judgements among `keys`."""
        if self.path is None:
            return {k: self._memory[k] for k in keys if k in self._memory}
        out: dict[str, Any] = {}
        unique = list(dict.fromkeys(keys))
        with self._guard("read"):
            for i in range(0, len(unique), 500):
                chunk = unique[i:i + 500]
                rows = self._conn().execute(f"SELECT key, value FROM memo WHERE key IN ({','.join('?' * len(chunk))})",
                                            chunk).fetchall()
                for key, value in rows:
                    try:
                        out[key] = json.loads(value)
                    except ValueError:  # a damaged value is a miss: judged again and rewritten
                        pass
        return out

    def put_many(self, kind: str, items: dict[str, Any]) -> None:
        """Store parsed judgements, all in one transaction (a killed writer leaves none or all)."""
        if not items:
            return
        self.counts["stored"] += len(items)
        if self.path is None:
            self._memory.update(items)
            return
        now = time.time()
        rows = [(k, kind, json.dumps(v, ensure_ascii=False), now) for k, v in items.items()]
        with self._guard("write"):
            insert_all(self._conn(), "INSERT OR REPLACE INTO memo (key, kind, value, created) VALUES (?, ?, ?, ?)", rows)

    def entries(self) -> int:
        """Stored judgements: verdicts and claim classes."""
        if self.path is None:
            return len(self._memory) + sum(len(book) for book in self._books.values())
        with self._guard("read"):
            conn = self._conn()
            return conn.execute("SELECT COUNT(*) FROM memo").fetchone()[0] + \
                conn.execute("SELECT COUNT(*) FROM classes").fetchone()[0]

    def clear(self) -> int:
        """Remove every stored judgement; how many there were."""
        if self.path is None:
            n = self.entries()
            self._memory, self._books = {}, {}
            return n
        with self._guard("write"):
            conn = self._conn()
            n = conn.execute("DELETE FROM memo").rowcount + conn.execute("DELETE FROM classes").rowcount
            conn.execute("VACUUM")
        self._books = {}
        return n

    # ------------------------------------------------------------------ claim classes, by book
    # A book holds the classes by content of the claims made about one question under one
    # informativeness judge: claim (normalised) -> {"class": ..., "text": as first seen}.

    def book(self, book: str, refresh: bool = False, written: dict[str, dict] | None = None) -> dict[str, dict]:
        """The classes of a book (read from the table on first use, or again with `refresh`: another
        process may have added claims). `written`: rows this process just stored (value -> entry),
        taken as they are rather than parsed back."""
        known = self._books.get(book)
        if known is not None and not refresh:
            return known
        known = self._books.setdefault(book, {})
        if self.path is None:
            return known
        # Rows are only ever added, so a refresh reads the rows added since the last one (rowids
        # grow): a large book is not parsed again at every batch.
        seen = self._book_rows.get(book, 0)
        with self._guard("read"):
            rows = self._conn().execute("SELECT rowid, value FROM classes WHERE book = ? AND rowid > ?",
                                        (book, seen)).fetchall()
        for rowid, value in rows:
            seen = max(seen, rowid)
            entry = written.get(value) if written else None
            if entry is None:
                try:
                    entry = json.loads(value)
                except ValueError:  # a damaged value: that claim is classified again
                    continue
            if isinstance(entry, dict) and isinstance(entry.get("claim"), str):
                known.setdefault(entry["claim"], entry)
        self._book_rows[book] = seen
        return known

    def add_to_book(self, book: str, entries: dict[str, dict]) -> None:
        """Parsed classes into a book, in one transaction; a claim already there keeps its entry
        (another process classified it first: everyone then uses that one)."""
        if not entries:
            return
        self.counts["stored"] += len(entries)
        if self.path is not None:
            now = time.time()
            written = {json.dumps(entry, ensure_ascii=False): entry
                       for entry in ({**e, "claim": claim} for claim, e in entries.items())}
            rows = [(item_key(book, entry["claim"]), book, value, now) for value, entry in written.items()]
            with self._guard("write"):
                insert_all(self._conn(), "INSERT OR IGNORE INTO classes (key, book, value, created) VALUES (?, ?, ?, ?)",
                           rows)
            self.book(book, refresh=True, written=written)
            return
        known = self._books.setdefault(book, {})
        for claim, entry in entries.items():
            known.setdefault(claim, {**entry, "claim": claim})

    def class_error(self, book: str, claim: str) -> str:
        """Why a claim of a book has no entry: the error kind of its last call, else missing_class."""
        return self._class_errors.get((book, claim), "missing_class")

    async def classes(self, book: str, question: str, wanted: dict[str, str], classify: Classify,
                      group: str | None = None) -> dict[str, dict | None]:
        """The entry of every claim in `wanted` (normalised -> text) in `book` (the classes of
        `question`). The claims not there yet are classified by `classify` ({book: (question,
        {claim: text})}, {book: its entries} -> {book: {claim: entry}}, an entry {"error": kind}
        where the output did not classify a claim; only the others are stored), one call at a
        time per book: claims that other samples need while a call is out wait for the next one,
        which takes them all. With a window (`window_s` > 0) and a `group` (the judge), the books
        of the group share their calls: claims of every question pending within the window go
        out together. A claim still without an entry after its batch (the judge's output did
        not classify it, or the call failed twice) is None."""
        known = self.book(book)
        missing = {c: t for c, t in wanted.items() if c not in known}
        self.counts["classes_hits"] += len(wanted) - len(missing)
        self.counts["classes_asked"] += len(missing)
        for _ in range(2):
            if not missing:
                break
            ok = await self._classify_batch(book, question, missing, classify,
                                            group if group is not None and self.window_s > 0 else book)
            known = self.book(book)
            missing = {c: t for c, t in missing.items() if c not in known}
            if ok:
                break  # the judge saw them: what it left unnamed stays missing (an error of this answer)
        return {claim: known.get(claim) for claim in wanted}

    async def _classify_batch(self, book: str, question: str, items: dict[str, str], classify: Classify,
                              group: str) -> bool:
        """Join the group's next batch (or open it and send it once the group's call in flight is
        back): whether the batch's call returned."""
        loop = asyncio.get_running_loop()
        at = (id(loop), group)
        batch = self._next_batch.get(at)
        if batch is not None:
            batch.items.setdefault(book, (question, {}))[1].update(items)
            return await asyncio.shield(batch.done)
        batch = _ClassBatch({book: (question, dict(items))}, loop.create_future())
        self._next_batch[at] = batch
        lock = self._book_locks.setdefault(at, asyncio.Lock())
        ok = False
        try:
            async with lock:
                if self.window_s > 0:
                    await asyncio.sleep(self.window_s)
                self._next_batch.pop(at, None)  # closed: later claims wait for the next call
                known = {b: self.book(b, refresh=True) for b in batch.items}
                todo = {b: (q, {c: t for c, t in claims.items() if c not in known[b]})
                        for b, (q, claims) in batch.items.items()}
                todo = {b: entry for b, entry in todo.items() if entry[1]}
                if todo:
                    self.counts["classes_misses"] += sum(len(claims) for _, claims in todo.values())
                    self.counts["classes_calls"] += 1
                    judged = await classify(todo, known)
                    for b, entries in judged.items():
                        for claim, entry in entries.items():
                            if "error" in entry:
                                self._class_errors[(b, claim)] = entry["error"]
                        self.add_to_book(b, {c: e for c, e in entries.items() if "error" not in e})
                ok = True
        finally:
            if self._next_batch.get(at) is batch:
                self._next_batch.pop(at, None)
            batch.done.set_result(ok)
        return ok

    # ------------------------------------------------------------------ single flight
    def claim(self, kind: str, keys: list[str]) -> Claimed:
        """Sort `keys` into stored ones, ones another sample is judging now (awaitable), and ones
        the caller now owns: it must `settle` every owned key, parsed or not. Call on the event loop."""
        out = Claimed()
        unique = list(dict.fromkeys(keys))
        stored = self.get_many([k for k in unique if k not in self._inflight])
        loop = asyncio.get_running_loop()
        for key in unique:
            if key in stored:
                out.hits[key] = stored[key]
            elif key in self._inflight:
                out.waits[key] = self._inflight[key]
            else:
                self._inflight[key] = loop.create_future()
                out.owned.append(key)
        self.counts[f"{kind}_hits"] += sum(keys.count(k) for k in out.hits)
        self.counts[f"{kind}_waits"] += sum(keys.count(k) for k in out.waits)
        self.counts[f"{kind}_misses"] += len(out.owned)
        return out

    def settle(self, kind: str, results: dict[str, Any | None]) -> None:
        """The owner's judgements: parsed ones (not None) are stored, then every waiter is woken
        with its key's judgement, or with None where the owner got none (the waiter judges it)."""
        self.put_many(kind, {k: v for k, v in results.items() if v is not None})
        for key, value in results.items():
            future = self._inflight.pop(key, None)
            if future is not None and not future.done():
                future.set_result(value)

    def release(self, keys: list[str]) -> None:
        """Owned keys given up without a judgement (the owner failed): waiters judge them themselves."""
        self.settle("", {k: None for k in keys})

    async def together(self, group: str, items: list, alone: Callable[[], Awaitable[list]],
                       jointly: Callable[[list], Awaitable[list]]) -> list:
        """One result per item: the claims several samples of one group need judged, judged in one
        call. The first sample opens the group's batch and waits `window_s` for others to add their
        items; then, alone, it judges its own (`alone()`: the call it would have made anyway), or
        all of them (`jointly(items)`) and hands each sample its part. If that call fails, every
        other sample judges its own items, so a failure stays the failing sample's."""
        if self.window_s <= 0:
            return await alone()
        batch = self._open.get(group)
        if batch is not None:
            start = len(batch.items)
            batch.items.extend(items)
            batch.members += 1
            results = await asyncio.shield(batch.done)
            if results is None:
                return await alone()
            self.counts["joint_items"] += len(items)
            return results[start:start + len(items)]
        batch = _Batch(list(items), asyncio.get_running_loop().create_future())
        self._open[group] = batch
        try:
            try:
                await asyncio.sleep(self.window_s)
            finally:
                self._open.pop(group, None)  # closed: a later sample opens the next batch
            if batch.members == 1:
                results = await alone()
            else:
                self.counts["joint_calls"] += 1
                results = await jointly(batch.items)
        except BaseException:
            batch.done.set_result(None)  # the others judge their own
            raise
        batch.done.set_result(results)
        return results[:len(items)]

    def stats(self) -> dict[str, int]:
        """Verdict hits, misses and waits, and joint calls, since this memo was opened."""
        out = {k: int(v) for k, v in sorted(self.counts.items())}
        # a class asked for and not sent by this sample was in another's call
        out["classes_waits"] = max(0, out.pop("classes_asked", 0) - out.get("classes_misses", 0))
        for kind in ("verdicts", "classes"):
            for what in ("hits", "misses", "waits"):
                out.setdefault(f"{kind}_{what}", 0)
        out.setdefault("stored", 0)
        return out

    def close(self) -> None:
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            conn.close()
        self._local = threading.local()


Classify = Callable[[dict[str, tuple[str, dict[str, str]]], dict[str, dict[str, dict]]],
                    Awaitable[dict[str, dict[str, dict]]]]


@dataclass
class _ClassBatch:
    items: dict[str, tuple[str, dict[str, str]]]  # book -> (question, {normalised claim: text})
    done: asyncio.Future  # True once the call returned (whatever it parsed), False if it failed


@dataclass
class _Batch:
    items: list
    done: asyncio.Future
    members: int = 1


async def judge_once(memo: VerdictMemo, kind: str, keys: dict[int, str],
                     judge: Callable[[list[int]], Awaitable[dict[int, Any | None]]]) -> dict[int, Any | None]:
    """The judgement of every item in `keys` (item index -> key): stored ones as they are, ones
    another sample is judging awaited, and the rest (one item per distinct key) judged here by
    `judge(indices)`, which returns each item's judgement or None where it got none. An item
    whose other sample got no judgement is judged here; an item this call failed stays None."""
    values: dict[int, Any | None] = {}
    pending = dict(keys)
    while pending:
        claimed = memo.claim(kind, list(pending.values()))
        first: dict[str, int] = {}
        for i, key in pending.items():
            if key not in claimed.hits and key not in claimed.waits:
                first.setdefault(key, i)
        judged: dict[int, Any | None] = {}
        if first:
            try:
                judged = await judge(sorted(first.values()))
            except BaseException:
                memo.release(list(first))  # waiters judge them themselves
                raise
            memo.settle(kind, {key: judged.get(i) for key, i in first.items()})
        waited = {key: await future for key, future in claimed.waits.items()}
        retry: dict[int, str] = {}
        for i, key in pending.items():
            if key in claimed.hits:
                values[i] = claimed.hits[key]
            elif key in first:
                values[i] = judged.get(first[key])
            elif waited.get(key) is not None:
                values[i] = waited[key]
            else:
                retry[i] = key
        pending = retry
    return values
