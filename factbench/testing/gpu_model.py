"""A timing model of one GPU serving a 70B-class judge (vLLM-like), for the scripted server.

- Prefill is compute-bound and shared by the whole GPU: one engine processes the uncached
  input tokens of one request at a time (`prefill_tokens_per_s`, ~5,000 for a 70B model on
  one H100); requests take turns, first come first served.
- Decode is memory-bound and runs in parallel for every sequence in the batch: each of up
  to `max_seqs` sequences produces `decode_tokens_per_s` (~50) tokens per second.
- Prefix caching: the prompt is cut into blocks of `block_tokens` (16) tokens; a block whose
  whole prefix was prefilled before is free. Capacity is not modelled (nothing is evicted).

The lower bound on wall time for a workload ("floor") is
max(total prefill time, total slot time / max_seqs), where a request's slot time is its
prefill plus its decode time. Every figure is in model seconds; the server divides sleeps
by `speed` for quick runs. Tokens are estimated at 4 characters each. The former per-sequence
model (`prefill_s_per_1k`, `decode_s_per_token`) is kept for bench/reward.py.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from typing import Any

CHARS_PER_TOKEN = 4
CLAIM_KINDS = ("extract", "verify")  # claim extraction and verification: the judging every run does


def approx_tokens(text: str) -> int:
    return max(1, len(text) // CHARS_PER_TOKEN)


def render_prompt(messages: list[dict[str, Any]]) -> str:
    """The prompt as a chat template would lay it out: what prefix caching sees, in order."""
    return "".join(f"<|{m.get('role', '')}|>\n{m.get('content', '')}\n" for m in messages)


@dataclass
class LatencyModel:
    prefill_tokens_per_s: float = 0.0  # 0: no simulated time at all (tests)
    decode_tokens_per_s: float = 0.0
    max_seqs: int = 256
    prefix_cache: bool = True
    speed: float = 1.0
    block_tokens: int = 16
    # The former per-sequence model, kept for bench/reward.py's latency comparisons: every request
    # holds a slot for prefill_s_per_1k x its uncached tokens / 1000 + decode_s_per_token x its
    # output tokens, prefill in parallel across slots, the system prompt cached once seen.
    prefill_s_per_1k: float = 0.0
    decode_s_per_token: float = 0.0

    @property
    def per_sequence(self) -> bool:
        return not (self.prefill_tokens_per_s or self.decode_tokens_per_s) and \
            bool(self.prefill_s_per_1k or self.decode_s_per_token)

    def seconds(self, input_tokens: int, cached_tokens: int, output_tokens: int) -> float:
        """One request's time on its own (no queueing), divided by `speed`."""
        uncached = input_tokens - (cached_tokens if self.prefix_cache else 0)
        if self.per_sequence:
            return (self.prefill_s_per_1k * uncached / 1000 + self.decode_s_per_token * output_tokens) / self.speed
        return (self.prefill_seconds(uncached) + self.decode_seconds(output_tokens)) / self.speed

    def prefill_seconds(self, tokens: int) -> float:
        return tokens / self.prefill_tokens_per_s if self.prefill_tokens_per_s > 0 else 0.0

    def decode_seconds(self, tokens: int) -> float:
        return tokens / self.decode_tokens_per_s if self.decode_tokens_per_s > 0 else 0.0


@dataclass
class KindTotals:
    requests: int = 0
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    prefill_s: float = 0.0
    prefill_s_uncached: float = 0.0
    decode_s: float = 0.0

    def to_dict(self) -> dict[str, float]:
        return {"requests": self.requests, "input_tokens": self.input_tokens, "cached_tokens": self.cached_tokens,
                "output_tokens": self.output_tokens, "prefill_s": self.prefill_s,
                "prefill_s_uncached": self.prefill_s_uncached, "decode_s": self.decode_s}


@dataclass
class GpuModel:
    """Shared state of the simulated GPU: the prefill engine, the sequence slots, the block cache."""

    latency: LatencyModel
    blocks: set[bytes] = field(default_factory=set)
    prefill_s: float = 0.0  # with the configured prefix caching
    prefill_s_uncached: float = 0.0  # the same work with prefix caching off
    decode_s: float = 0.0
    by_kind: dict[str, KindTotals] = field(default_factory=dict)
    _systems: set[str] = field(default_factory=set)  # the per-sequence model's cached system prompts
    _engine: asyncio.Lock | None = None
    _slots: asyncio.Semaphore | None = None

    def _block_hashes(self, prompt: str) -> list[bytes]:
        size = self.latency.block_tokens * CHARS_PER_TOKEN
        out, h = [], b""
        for start in range(0, len(prompt) - size + 1, size):  # only full blocks are cached
            h = hashlib.blake2b(h + prompt[start:start + size].encode(), digest_size=16).digest()
            out.append(h)
        return out

    def cached_tokens(self, prompt: str, register: bool) -> int:
        """Tokens of `prompt` covered by blocks prefilled before; with `register`, remember its blocks."""
        hashes = self._block_hashes(prompt)
        hits = 0
        if self.latency.prefix_cache:
            for h in hashes:
                if h not in self.blocks:
                    break
                hits += 1
        if register:
            self.blocks.update(hashes)
        return hits * self.latency.block_tokens

    async def serve(self, kind: str, prompt: str, output_tokens: int, system: str = "") -> tuple[int, int]:
        """Wait for a slot and the prefill engine, then prefill and decode. Returns (input, cached) tokens."""
        lat = self.latency
        input_tokens = approx_tokens(prompt)
        if self._engine is None or self._slots is None:
            self._engine, self._slots = asyncio.Lock(), asyncio.Semaphore(max(1, lat.max_seqs))
        if lat.per_sequence:
            return await self._serve_per_sequence(kind, system, input_tokens, output_tokens, self._slots)
        async with self._slots:
            async with self._engine:  # asyncio.Lock wakes waiters in arrival order
                cached = min(input_tokens, self.cached_tokens(prompt, register=False))
                prefill = lat.prefill_seconds(input_tokens - cached)
                if prefill > 0:
                    await asyncio.sleep(prefill / lat.speed)
                self.cached_tokens(prompt, register=True)
            decode = lat.decode_seconds(output_tokens)
            if decode > 0:
                await asyncio.sleep(decode / lat.speed)
        self.prefill_s += prefill
        self.prefill_s_uncached += lat.prefill_seconds(input_tokens)
        self.decode_s += decode
        totals = self.by_kind.setdefault(kind, KindTotals())
        totals.requests += 1
        totals.input_tokens += input_tokens
        totals.cached_tokens += cached
        totals.output_tokens += output_tokens
        totals.prefill_s += prefill
        totals.prefill_s_uncached += lat.prefill_seconds(input_tokens)
        totals.decode_s += decode
        return input_tokens, cached

    async def _serve_per_sequence(self, kind: str, system: str, input_tokens: int,
                                  output_tokens: int, slots: asyncio.Semaphore) -> tuple[int, int]:
        cached = approx_tokens(system) if system and system in self._systems else 0
        if system:
            self._systems.add(system)
        seconds = self.latency.seconds(input_tokens, cached, output_tokens)
        if seconds > 0:
            async with slots:
                await asyncio.sleep(seconds)
        totals = self.by_kind.setdefault(kind, KindTotals())
        totals.requests += 1
        totals.input_tokens += input_tokens
        totals.cached_tokens += cached
        totals.output_tokens += output_tokens
        return input_tokens, cached

    def floor_s(self, cached: bool = True, kinds: tuple[str, ...] | None = None) -> float:
        """max(total prefill, total slot time / max_seqs): no schedule of this work can finish
        sooner. With `kinds`, the floor of those requests alone."""
        if kinds is None:
            prefill, decode = (self.prefill_s if cached else self.prefill_s_uncached), self.decode_s
        else:
            parts = [self.by_kind[k] for k in kinds if k in self.by_kind]
            prefill = sum(t.prefill_s if cached else t.prefill_s_uncached for t in parts)
            decode = sum(t.decode_s for t in parts)
        return max(prefill, (prefill + decode) / max(1, self.latency.max_seqs))

    def stats(self) -> dict[str, Any]:
        return {"max_seqs": self.latency.max_seqs, "prefix_cache": self.latency.prefix_cache,
                "prefill_s": self.prefill_s, "prefill_s_uncached": self.prefill_s_uncached,
                "decode_s": self.decode_s, "floor_s": self.floor_s(True),
                "floor_s_uncached": self.floor_s(False),
                "floor_s_claims": self.floor_s(True, CLAIM_KINDS),
                "floor_s_claims_uncached": self.floor_s(False, CLAIM_KINDS),
                "by_kind": {k: v.to_dict() for k, v in self.by_kind.items()}}
