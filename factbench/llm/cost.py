"""What calls cost: tokens always, dollars where a price is known.

Prices, per role:
- a price the user gave (`--price-per-1k-input/--price-per-1k-output`) wins;
- otherwise a role without base URLs (a provider API) is priced from litellm's own cost map
  (the local copy shipped with litellm: LITELLM_LOCAL_MODEL_COST_MAP is set, nothing is fetched);
- a self-hosted role (base URLs) without a user price has no dollar cost: the map's price for a
  model of the same name is the provider's, not the user's hardware.

Per-answer usage: the runner opens a :class:`UsageLedger` for each (sample, stage) in a context
variable; every call a client makes inside it is added there, and the ledger is stored on the
stage's record (`usage`). A run also sets a call journal (:class:`CallSink`, the run directory's
calls.jsonl) that gets every call as it completes, so that a killed invocation's spend is counted.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from factbench.llm.litellm_lib import litellm


@dataclass(frozen=True)
class Price:
    """Dollars per 1,000 input and output tokens."""

    input_per_1k: float
    output_per_1k: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input_per_1k + completion_tokens * self.output_per_1k) / 1000


@lru_cache(maxsize=256)
def litellm_price(model: str) -> Price | None:
    """The price in litellm's cost map, or None when the model is not in it."""
    try:
        prompt_cost, completion_cost = litellm().cost_per_token(model=model, prompt_tokens=1000,
                                                                 completion_tokens=1000)
    except Exception:  # litellm raises its own "not mapped" errors for unknown models
        return None
    return Price(float(prompt_cost), float(completion_cost))


def role_price(model: str, self_hosted: bool, user_price: tuple[float, float] | None) -> Price | None:
    if user_price is not None:
        return Price(*user_price)
    return None if self_hosted else litellm_price(model)


def price_source(model: str, self_hosted: bool, user_price: tuple[float, float] | None) -> str | None:
    """Where a role's price comes from (recorded in run.json), None when unpriced."""
    if user_price is not None:
        return "user"
    return None if self_hosted or litellm_price(model) is None else "litellm"


def charge(spec: Any, cached: bool, prompt_tokens: int, completion_tokens: int) -> float | None:
    """The dollar cost of one call of a role (0 for a cache hit, None when unpriced), added to
    the ledger of the (sample, stage) it was made for, if any."""
    cost: float | None = 0.0
    if not cached:
        price = role_price(spec.model, bool(spec.base_urls), spec.price_per_1k)
        cost = price.cost(prompt_tokens, completion_tokens) if price else None
    ledger = CURRENT_LEDGER.get()
    if ledger is not None:
        ledger.add(spec.role, cached, prompt_tokens, completion_tokens, cost)
    journal = CURRENT_JOURNAL.get()
    if journal is not None:
        journal.add(spec.role, cached, prompt_tokens, completion_tokens, cost)
    return cost


@dataclass
class RoleUsage:
    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = 0.0  # None once any fresh call had no price

    def add(self, cached: bool, prompt_tokens: int, completion_tokens: int, cost: float | None) -> None:
        self.calls += 1
        if cached:
            self.cache_hits += 1
            return
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.cost_usd = None if cost is None or self.cost_usd is None else self.cost_usd + cost

    def to_dict(self) -> dict[str, Any]:
        return {"calls": self.calls, "cache_hits": self.cache_hits, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
                "cost_usd": None if self.cost_usd is None else round(self.cost_usd, 8)}


@dataclass
class UsageLedger:
    """Calls made on behalf of one (sample, stage), per role."""

    roles: dict[str, RoleUsage] = field(default_factory=dict)

    def add(self, role: str, cached: bool, prompt_tokens: int, completion_tokens: int, cost: float | None) -> None:
        self.roles.setdefault(role, RoleUsage()).add(cached, prompt_tokens, completion_tokens, cost)

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {role: u.to_dict() for role, u in self.roles.items()}


CURRENT_LEDGER: contextvars.ContextVar[UsageLedger | None] = contextvars.ContextVar("factbench_usage", default=None)


class CallSink(Protocol):
    def add(self, role: str, cached: bool, prompt_tokens: int, completion_tokens: int, cost: float | None) -> None: ...


CURRENT_JOURNAL: contextvars.ContextVar[CallSink | None] = contextvars.ContextVar("factbench_journal", default=None)


def add_up(parts: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Per-role usage or call statistics added up: numbers summed, counters (`errors`) merged; a
    role's `cost_usd` is None when any part with calls has no price."""
    out: dict[str, dict[str, Any]] = {}
    for part in parts:
        for role, stats in part.items():
            acc = out.setdefault(role, {"cost_usd": 0.0})
            for key, value in stats.items():
                if isinstance(value, dict):
                    merged = acc.setdefault(key, {})
                    for kind, n in value.items():
                        merged[kind] = merged.get(kind, 0) + n
                elif key != "cost_usd" and isinstance(value, (int, float)):
                    acc[key] = acc.get(key, 0) + value
            cost = stats.get("cost_usd", None if stats.get("calls") else 0.0)
            acc["cost_usd"] = None if cost is None or acc["cost_usd"] is None else round(acc["cost_usd"] + cost, 8)
    return out


def total_cost(usage: dict[str, dict[str, Any]]) -> float | None:
    costs: list[float | None] = [u.get("cost_usd") for u in usage.values()]
    known = [c for c in costs if c is not None]
    return None if len(known) < len(costs) else round(sum(known), 8)
