"""How long one request may take before it is abandoned and retried.

A hung request should cost seconds, not the several minutes a fixed generous timeout costs;
a slow but healthy server must not be cut off. So the limit follows what the role's server
has actually shown:

- until `WARMUP` calls of the role have succeeded: `COLD_BASE_S` plus `COLD_S_PER_TOKEN` for
  every token the request may produce (its `max_tokens`, else `DEFAULT_OUTPUT_TOKENS`) plus
  `COLD_S_PER_PROMPT_TOKEN` for every token of its prompt (estimated from its length), so a long
  judge prompt on a small CPU server is not cut off while the server is still reading it;
- after that: `FACTOR` x the median of the role's last `WINDOW` successful calls, and never
  under `FLOOR_S` (the median, not a high percentile: the first calls of a run carry the client's
  start-up and would otherwise set the limit for the whole run);
- always at most the role's `--*-timeout` (the cap); each retry of a call that timed out gets
  twice the limit of the attempt before, so a call that is genuinely slow still completes.

A request in flight is held to the current limit, so requests sent while the server was still
unknown are cut short as soon as its speed is known.
"""

from __future__ import annotations

from collections import deque

WARMUP = 10
WINDOW = 200
FACTOR = 8.0
FLOOR_S = 5.0
COLD_BASE_S = 10.0
COLD_S_PER_TOKEN = 0.05  # 20 tokens/s, a slow decode for one sequence
# 20 prompt tokens/s: llama.cpp read a 1,734-token prompt at 25-27 tokens/s with a 135M model on one
# thread of a 2-core machine at load average 7.5; such a prompt gets 87 s more.
COLD_S_PER_PROMPT_TOKEN = 0.05
CHARS_PER_TOKEN = 4  # a rough estimate for English text, enough for a time limit
DEFAULT_OUTPUT_TOKENS = 1024


class AdaptiveTimeout:
    """The time limit for the next attempt of a role's request (see the module docstring)."""

    def __init__(self, cap_s: float, max_tokens: int | None = None):
        self.cap_s = cap_s
        self.cold_s = COLD_BASE_S + COLD_S_PER_TOKEN * (max_tokens or DEFAULT_OUTPUT_TOKENS)
        self._recent: deque[float] = deque(maxlen=WINDOW)
        self._typical: float | None = None  # the median of recent successful calls

    def observe(self, seconds: float) -> None:
        """Record the duration of a successful request."""
        self._recent.append(seconds)
        if len(self._recent) >= WARMUP:
            self._typical = sorted(self._recent)[len(self._recent) // 2]

    def limit(self, timeouts_before: int = 0, prompt_tokens: int = 0) -> float:
        """Seconds allowed for an attempt after `timeouts_before` timed-out attempts of the same call
        (`prompt_tokens`: the request's prompt size, which lengthens the limit until the role's
        speed is known)."""
        if self._typical is None:
            base = self.cold_s + COLD_S_PER_PROMPT_TOKEN * prompt_tokens
        else:
            base = max(FLOOR_S, FACTOR * self._typical)
        return min(self.cap_s, base * 2 ** min(timeouts_before, 10))


def prompt_tokens(messages: list[dict[str, str]]) -> int:
    """An estimate of a chat request's prompt tokens from its text's length."""
    return sum(len(str(m.get("content") or "")) for m in messages) // CHARS_PER_TOKEN
