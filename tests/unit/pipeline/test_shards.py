"""--shard I/N: a deterministic, balanced partition of the plan that interleaving inverts."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from factbench.pipeline.options import UsageError, parse_shard
from factbench.pipeline.plan import Plan, PlannedTask
from factbench.pipeline.shards import interleave, shard_plan
from factbench.tasks import Prompt, Task


def _plan(sizes):
    return Plan(tasks=[PlannedTask(Task(name=f"t{t}", version="1", loader=lambda ctx: []),
                                   [Prompt(id=f"p{i}", text="q") for i in range(n)], evidence=None)
                       for t, n in enumerate(sizes)])


def _keys(plan):
    return [f"{pt.task.name}/{p.id}" for pt in plan.tasks for p in pt.prompts]


@given(sizes=st.lists(st.integers(0, 12), min_size=1, max_size=4), count=st.integers(1, 7))
def test_shards_partition_the_plan_and_interleave_restores_it(sizes, count):
    whole = _keys(_plan(sizes))
    shards = [_keys(shard_plan(_plan(sizes), f"{i}/{count}")) for i in range(1, count + 1)]
    assert sorted(k for s in shards for k in s) == sorted(whole)
    assert max(map(len, shards)) - min(map(len, shards)) <= 1
    assert interleave(shards) == whole
    assert shards == [_keys(shard_plan(_plan(sizes), f"{i}/{count}")) for i in range(1, count + 1)]


@pytest.mark.parametrize("bad", ["0/3", "4/3", "1", "a/b", "1/0", "-1/2"])
def test_bad_shard_specs_are_usage_errors(bad):
    with pytest.raises(UsageError, match="expected I/N"):
        parse_shard(bad)
