"""The TRL and verl adapters on small batches against the scripted judge; references and relevance."""

import logging
import math

import pytest

from factbench.reward import Scorer, TRLReward, VerlReward, adapters
from factbench.testing.scripted_server import Fault, request_kind

GOOD = "The harbour of Lyon is documented in source 1. The museum of Lyon is documented in source 2."
MIXED = "The harbour of Lyon is documented in source 1. Records from Atlantis mention the harbour."


@pytest.fixture
def scorer(server):
    with Scorer(judge="openai/judge", judge_base_url=server.base_url, use_cache=False) as s:
        yield s


def test_trl_plain_and_conversational(scorer):
    reward = TRLReward(scorer)
    assert reward.__name__ == "factbench_reward"
    plain = reward(prompts=["Lyon?", "Lyon?", "Lyon?"], completions=[GOOD, MIXED, ""], completion_ids=[[1], [2], [3]])
    assert len(plain) == 3 and plain[0] > plain[1] > 0 and plain[2] == 0.0
    chat = reward(prompts=[[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Lyon?"}]] * 2,
                  completions=[[{"role": "assistant", "content": GOOD}], [{"role": "assistant", "content": MIXED}]])
    assert chat == pytest.approx(plain[:2])
    assert reward.last_results[1].precision == 0.5


def test_trl_masked_item_is_none(server, scorer):
    server.state.faults.append(Fault("text:garbage", when=lambda b: request_kind(b) == "verify"))
    out = TRLReward(scorer)(prompts=["Lyon?"], completions=[GOOD])
    assert out == [None]


def test_references_cost_no_judge_calls_unless_relevance_counts(server, scorer, monkeypatch, caplog):
    monkeypatch.setattr(adapters, "_said_ignored", False)
    reward = TRLReward(scorer, reference_column="answer")
    with caplog.at_level(logging.WARNING, logger="factbench.reward"):
        reward(prompts=["Tell me about the harbour of Lyon."], completions=[GOOD], answer=["A place."])
        reward(prompts=["Tell me about the harbour of Lyon."], completions=[MIXED], answer=["A place."])
    assert server.state.requests["relevance"] == 0 and reward.last_results[0].relevance is None
    said = [r.getMessage() for r in caplog.records if "references" in r.getMessage()]
    assert len(said) == 1 and "ignored" in said[0]  # said once, not per batch

    with Scorer(judge="openai/judge", judge_base_url=server.base_url, use_cache=False, reward_mu=0.2) as weighted:
        TRLReward(weighted, reference_column="answer")(prompts=["Tell me about the harbour of Lyon."],
                                                         completions=[GOOD], answer=["A place."])
    weighted_calls = server.state.requests["relevance"]
    assert weighted_calls > 0
    with Scorer(judge="openai/judge", judge_base_url=server.base_url, use_cache=False,
                reward_relevance="references") as asked:
        asked_reward = TRLReward(asked, reference_column="answer")
        asked_reward(prompts=["Tell me about the harbour of Lyon."], completions=[GOOD], answer=["A place."])
    assert server.state.requests["relevance"] == 2 * weighted_calls and asked_reward.last_results[0].relevance is not None


def test_verl_sample_masked_and_nothing_nan(scorer, server):
    compute_score = VerlReward(scorer)
    single = compute_score(data_source="factuality", solution_str=MIXED, ground_truth=None,
                           extra_info={"prompt": "Lyon?"})
    assert single["score"] > 0 and single["masked"] == 0.0 and single["precision"] == 0.5
    empty = compute_score(data_source="f", solution_str="", ground_truth="", extra_info={"question": "Lyon?"})
    assert set(empty) == set(single)  # the same keys for every sample (verl collects them per key)
    assert empty["score"] == 0.0 and empty["precision"] is None  # None, never NaN
    server.state.faults.append(Fault("text:garbage", when=lambda b: request_kind(b) == "verify"))
    masked = VerlReward(scorer, masked_score=-1.0)(data_source="f", solution_str=GOOD + " Again.",
                                                   ground_truth=None, extra_info={"prompt": "Lyon?"})
    assert masked["masked"] == 1.0 and masked["score"] == -1.0 and masked["precision"] is None
    for value in (*single.values(), *empty.values(), *masked.values()):
        assert value is None or not math.isnan(value)
    with pytest.raises(ValueError, match="extra_info"):
        compute_score(data_source="f", solution_str=GOOD, ground_truth=None, extra_info={})
