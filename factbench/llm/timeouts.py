"""How long one request may take before it is abandoned and retried.

A hung request should cost seconds, not the several minutes a fixed generous timeout costs;
a slow but healthy server must not be cut off. So the limit follows what the role's server
has actually shown:

- until `WARMUP` calls of the role have succeeded: `COLD_BASE_S` plus `COLD_S_PER_TOKEN` for
  every token the request may produce (its `max_tokens`, else `DEFAULT_OUTPUT_TOKENS`);
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

    def limit(self, timeouts_before: int = 0) -> float:
        """Seconds allowed for an attempt after `timeouts_before` timed-out attempts of the same call."""
        base = self.cold_s if self._typical is None else max(FLOOR_S, FACTOR * self._typical)
        return min(self.cap_s, base * 2 ** min(timeouts_before, 10))
