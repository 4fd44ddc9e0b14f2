"""Accounting across the invocations of one run: calls, tokens, cache hits, wall time, dollars.

Each invocation of `factbench run`/`score` on a run directory appends one line to
`invocations.jsonl` (append-only, fsynced; written even when the invocation is interrupted or
stopped at `--max-cost`). summary.json's totals are the sums over these lines; its
`last_invocation` is the last line. A run directory written before this file existed gets one
line imported from its old summary.json (marked `"imported": true`) the first time it is resumed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from factbench.llm.client import RoleSpec
from factbench.llm.cost import add_up, role_price
from factbench.store.files import append_bytes

INVOCATIONS = "invocations.jsonl"


def read_invocations(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / INVOCATIONS
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


def append_invocation(run_dir: Path, record: dict[str, Any]) -> None:
    append_bytes(run_dir / INVOCATIONS, (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))


def import_legacy(run_dir: Path) -> None:
    """A run directory from before invocations.jsonl: its last summary becomes the first line."""
    summary_path = run_dir / "summary.json"
    if (run_dir / INVOCATIONS).exists() or not summary_path.exists():
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
    costs = [s.get("cost_usd") for s in calls.values()]
    return None if any(c is None for c in costs) else round(sum(costs), 8)


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


def totals(invocations: list[dict[str, Any]]) -> dict[str, Any]:
    """The summary's accounting block: sums over every invocation, and the last one on its own."""
    calls = add_up([inv.get("calls", {}) for inv in invocations])
    last = invocations[-1] if invocations else {}
    return {
        "invocations": len(invocations),
        "wall_seconds": round(sum(inv.get("wall_seconds", 0.0) for inv in invocations), 3),
        "calls": calls,
        "cache": {"hits": sum(s.get("cache_hits", 0) for s in calls.values()),
                  "calls": sum(s.get("calls", 0) for s in calls.values())},
        "cost_usd": cost_of(calls),
        "last_invocation": {
            "started_at": last.get("started_at"), "wall_seconds": last.get("wall_seconds", 0.0),
            "calls": last.get("calls", {}),
            "cache": {"hits": sum(s.get("cache_hits", 0) for s in last.get("calls", {}).values()),
                      "calls": sum(s.get("calls", 0) for s in last.get("calls", {}).values())},
            "cost_usd": cost_of(last.get("calls", {})), "stopped_at_max_cost": last.get("stopped_at_max_cost", False),
        },
    }
