"""The one backoff policy for every remote call (model endpoints, web search)."""

from __future__ import annotations

import random


def backoff_delay(attempt: int, base_s: float = 0.5, cap_s: float = 30.0, retry_after_s: float | None = None) -> float:
    """Seconds to wait before retry `attempt` (0-based): a server's Retry-After when it gave one,
    else exponential backoff capped at `cap_s`, with +-50% jitter so callers do not retry in step."""
    if retry_after_s is not None:
        return retry_after_s
    return min(cap_s, base_s * 2**attempt) * random.uniform(0.5, 1.5)
