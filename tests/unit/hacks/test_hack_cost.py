"""The hack report's cost per answer covers every judge role the registered stages declare."""

from __future__ import annotations

from factbench.hacks.runner import _cost
from factbench.stages.registry import judge_roles


def test_cost_per_answer_is_given_for_each_registered_judge_role_and_not_the_model():
    roles = [r.name for r in judge_roles()]
    calls = {name: {"calls": 4, "prompt_tokens": 100, "cached_prompt_tokens": 20} for name in roles}
    calls["model"] = {"calls": 2, "prompt_tokens": 10, "cached_prompt_tokens": 0}
    out = _cost({"calls": calls}, n=2)
    assert sorted(out) == sorted(roles) and "informativeness" in out
    assert out["verifier"] == {"calls_per_answer": 2.0, "prompt_tokens_per_answer": 60.0}
    assert _cost({"calls": calls}, n=0) == {}
