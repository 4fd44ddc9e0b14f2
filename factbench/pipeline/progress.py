"""Progress bars: one per stage, with done/errors/cache-hit counts."""

from __future__ import annotations

import sys
from collections import Counter

from tqdm import tqdm

from factbench.llm.client import LLMClient


class Progress:
    """One tqdm bar per stage with done/errors/cache-hit counts."""

    def __init__(self, totals: dict[str, int], enabled: bool, clients: dict[str, LLMClient],
                 roles: dict[str, str]):
        self.clients = clients
        self.roles = roles  # stage -> the role whose cache hits its bar shows
        self.errors: Counter[str] = Counter()
        self.bars = {s: tqdm(total=n, desc=f"{s:<9}", position=i, leave=True, disable=not enabled,
                             file=sys.stderr, dynamic_ncols=True) for i, (s, n) in enumerate(totals.items())}

    def done(self, stage: str) -> None:
        bar = self.bars.get(stage)
        if bar is not None:
            bar.update(1)
            role = self.roles.get(stage)
            client = self.clients.get(role) if role else None
            postfix = {"errors": self.errors[stage]}
            if client is not None:
                postfix["cache_hits"] = client.stats.cache_hits
            bar.set_postfix(postfix, refresh=False)

    def failed(self, stage: str) -> None:
        self.errors[stage] += 1
        bar = self.bars.get(stage)
        if bar is not None:
            bar.set_postfix({"errors": self.errors[stage]}, refresh=True)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
