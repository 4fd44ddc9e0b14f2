"""Accounting across the invocations of one run: calls, tokens, cache hits, wall time, dollars.

Each invocation of `factbench run`/`score` on a run directory appends one line to
`invocations.jsonl` when it ends (append-only, fsynced; written even when the invocation is
interrupted or stopped at `--max-cost`). While it runs, every model call is appended to
`calls.jsonl` as it completes (:class:`CallJournal`: written at once, fsynced in small batches),
so an invocation killed before its last line (SIGKILL, power loss) still counts what it spent, up
to the calls in flight: `read_invocations` adds one line built from its calls (`"killed": true`).
summary.json's totals, and `--max-cost`, are the sums over these lines; `last_invocation` is the
last one. A run directory written before these files existed gets one line imported from its old
summary.json (marked `"imported": true`) the first time it is resumed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from factbench.llm.client import RoleSpec
from factbench.llm.cost import CURRENT_JOURNAL, RoleUsage, add_up, role_price
from factbench.store.files import WriteFailed, append_bytes, write_all

INVOCATIONS = "invocations.jsonl"
CALLS = "calls.jsonl"
SYNC_EVERY = 32  # calls.jsonl is fsynced after this many lines ...
SYNC_S = 0.5  # ... or this many seconds, whichever comes first (every line is written at once)


def _read_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for raw in path.read_bytes().splitlines():
        try:
            line = json.loads(raw.decode("utf-8"))
        except (ValueError, RecursionError):  # a line torn by a crash mid-write, or damaged
            continue
        if isinstance(line, dict):
            out.append(line)
    return out


def read_invocations(run_dir: Path) -> list[dict[str, Any]]:
    """Every invocation of the run, in the order they started: the finished ones' lines, and one
    line per killed invocation built from its journal of calls."""
    finished = _read_lines(run_dir / INVOCATIONS)
    ended = {line.get("invocation") for line in finished}
    killed: dict[str, dict[str, Any]] = {}
    usage: dict[str, dict[str, RoleUsage]] = {}
    for line in _read_lines(run_dir / CALLS):
        inv = line.get("inv")
        if not isinstance(inv, str) or inv in ended:
            continue
        if "started_at" in line:
            killed[inv] = {"invocation": inv, "started_at": line["started_at"], "killed": True, "wall_seconds": 0.0}
        elif isinstance(line.get("role"), str):
            try:
                usage.setdefault(inv, {}).setdefault(line["role"], RoleUsage()).add(
                    bool(line.get("cached")), int(line.get("in", 0)), int(line.get("out", 0)), line.get("usd"))
            except (TypeError, ValueError):  # a damaged line: skipped like a torn one
                continue
    for inv, line in killed.items():
        line["calls"] = {role: u.to_dict() for role, u in usage.get(inv, {}).items()}
    # Lines without a start time (imported, or written before it was recorded) come first.
    return sorted(finished + list(killed.values()), key=lambda line: str(line.get("started_at") or ""))


class CallJournal:
    """calls.jsonl for one invocation: a start line, then one line per completed call.

    Each line goes to the file at once (a killed process loses none); fsync, which only an
    operating-system crash needs, is done every SYNC_EVERY lines or SYNC_S seconds."""

    def __init__(self, run_dir: Path):
        self.id = uuid.uuid4().hex
        self.path = run_dir / CALLS
        self.started_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        try:
            self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise WriteFailed(self.path, exc) from None
        self._unsynced = 0
        self._synced_at = time.monotonic()
        self._write({"inv": self.id, "started_at": self.started_at}, sync=True)
        self._token = CURRENT_JOURNAL.set(self)

    def _write(self, line: dict[str, Any], sync: bool = False) -> None:
        if self._fd is None:
            return
        write_all(self._fd, (json.dumps(line, separators=(",", ":")) + "\n").encode("utf-8"), self.path, sync=False)
        self._unsynced += 1
        if sync or self._unsynced >= SYNC_EVERY or time.monotonic() - self._synced_at >= SYNC_S:
            self.sync()

    def sync(self) -> None:
        if self._fd is None or not self._unsynced:
            return
        try:
            os.fsync(self._fd)
        except OSError as exc:
            raise WriteFailed(self.path, exc) from None
        self._unsynced, self._synced_at = 0, time.monotonic()

    def add(self, role: str, cached: bool, prompt_tokens: int, completion_tokens: int, cost: float | None) -> None:
        line: dict[str, Any] = {"inv": self.id, "role": role}
        if cached:
            line["cached"] = 1
        else:
            line.update({"in": prompt_tokens, "out": completion_tokens, "usd": cost})
        self._write(line)

    def close(self) -> None:
        """Stop journaling (the invocation's own line now says it all)."""
        if self._fd is None:
            return
        CURRENT_JOURNAL.reset(self._token)
        fd, self._fd = self._fd, None
        try:
            os.fsync(fd)
        except OSError:  # the invocation line, written next, is what counts from here on
            pass
        os.close(fd)


def append_invocation(run_dir: Path, record: dict[str, Any], journal: CallJournal | None = None) -> None:
    """The invocation's line (ending its journal). Called while the invocation is failing (a full
    disk), a failure to write it is dropped: the error already on its way names the file that
    failed first, and the journal keeps the calls."""
    failing = sys.exc_info()[1] is not None
    if journal is not None:
        journal.close()
        record = {"invocation": journal.id, "started_at": journal.started_at, **record}
    try:
        append_bytes(run_dir / INVOCATIONS, (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
    except WriteFailed:
        if not failing:
            raise


def import_legacy(run_dir: Path) -> None:
    """A run directory from before invocations.jsonl: its last summary becomes the first line."""
    summary_path = run_dir / "summary.json"
    if (run_dir / INVOCATIONS).exists() or (run_dir / CALLS).exists() or not summary_path.exists():
        return
    try:
        old = json.loads(summary_path.read_bytes().decode("utf-8"))
    except (ValueError, RecursionError):  # damaged: summary.json is derived, and rebuilt
        return
    if not isinstance(old, dict):
        return
    append_invocation(run_dir, {"imported": True, "wall_seconds": old.get("wall_seconds", 0.0),
                                "calls": old.get("calls", {}), "factbench_version": old.get("factbench_version")})


def cost_of(calls: dict[str, dict[str, Any]]) -> float | None:
    costs: list[float | None] = [s.get("cost_usd") for s in calls.values()]
    known = [c for c in costs if c is not None]
    return None if len(known) < len(costs) else round(sum(known), 8)


def spent_usd(invocations: list[dict[str, Any]], roles: dict[str, RoleSpec]) -> float:
    """Dollars spent by earlier invocations, priced with today's prices where a line has none."""
    total = 0.0
    for inv in invocations:
        for role, stats in inv.get("calls", {}).items():
            if stats.get("cost_usd") is not None:
                total += stats["cost_usd"]
            elif role in roles:
                spec = roles[role]
                price = role_price(spec.model, bool(spec.base_urls), spec.price_per_1k)
                if price is not None:
                    total += price.cost(stats.get("prompt_tokens", 0), stats.get("completion_tokens", 0))
    return total


def _cache(calls: dict[str, dict[str, Any]]) -> dict[str, int]:
    return {"hits": sum(s.get("cache_hits", 0) for s in calls.values()),
            "calls": sum(s.get("calls", 0) for s in calls.values())}


def totals(invocations: list[dict[str, Any]]) -> dict[str, Any]:
    """The summary's accounting block: sums over every invocation, and the last one on its own."""
    calls = add_up([inv.get("calls", {}) for inv in invocations])
    last = invocations[-1] if invocations else {}
    return {
        "invocations": len(invocations),
        "wall_seconds": round(sum(inv.get("wall_seconds", 0.0) for inv in invocations), 3),
        "calls": calls,
        "cache": _cache(calls),
        "cost_usd": cost_of(calls),
        "last_invocation": {
            "started_at": last.get("started_at"), "wall_seconds": last.get("wall_seconds", 0.0),
            "calls": last.get("calls", {}),
            "cache": _cache(last.get("calls", {})),
            "cost_usd": cost_of(last.get("calls", {})), "stopped_at_max_cost": last.get("stopped_at_max_cost", False),
        },
    }
