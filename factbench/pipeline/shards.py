"""Sharding a run: `--shard I/N` keeps every N-th planned prompt, counted across tasks in plan order.

The partition is deterministic (it depends only on the plan, which is seeded), balanced to one
prompt, and invertible: interleaving the shards' prompt lists restores the unsharded order, which
is how `factbench merge` rebuilds the run exactly (see :mod:`factbench.pipeline.merge`).
"""

from __future__ import annotations

from factbench.pipeline.options import parse_shard
from factbench.pipeline.plan import Plan


def shard_plan(plan: Plan, shard: str | None) -> Plan:
    """Keep planned prompt j (counted over all tasks) when j % N == I - 1."""
    if not shard:
        return plan
    index, count = parse_shard(shard)
    position = 0
    for pt in plan.tasks:
        kept = []
        for prompt in pt.prompts:
            if position % count == index - 1:
                kept.append(prompt)
            position += 1
        pt.prompts = kept
    return plan


def interleave(sequences: list[list[str]]) -> list[str]:
    """The inverse of the partition: item j of the whole is item j // N of shard j % N."""
    total = sum(len(s) for s in sequences)
    count = len(sequences)
    return [sequences[j % count][j // count] for j in range(total)]
