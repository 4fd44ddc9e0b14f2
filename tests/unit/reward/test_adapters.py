"""The TRL and verl adapters on a small batch against the scripted judge."""

import math

import pytest

from factbench.reward import Scorer, TRLReward, VerlReward
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


def test_trl_reference_column_turns_on_relevance(scorer):
    reward = TRLReward(scorer, reference_column="answer")
    reward(prompts=["Tell me about the harbour of Lyon."], completions=[GOOD], answer=["A place."])
    assert reward.last_results[0].relevance is not None


def test_verl_single_and_batched(scorer, server):
    compute_score = VerlReward(scorer)
    single = compute_score(data_source="factuality", solution_str=MIXED, ground_truth=None,
                           extra_info={"prompt": "Lyon?"})
    assert single["score"] > 0 and single["masked"] == 0.0 and single["precision"] == 0.5
    batch = compute_score(data_sources=["f", "f"], solution_strs=[GOOD, ""], ground_truths=[None, None],
                          extra_infos=[{"question": "Lyon?"}, {"question": "Lyon?"}])
    assert [set(b) for b in batch] == [set(single)] * 2  # the same keys for every item (verl logs them)
    assert batch[0]["score"] > single["score"] and batch[1]["score"] == 0.0 and math.isnan(batch[1]["precision"])
    server.state.faults.append(Fault("text:garbage", when=lambda b: request_kind(b) == "verify"))
    masked = VerlReward(scorer, masked_score=-1.0)(data_source="f", solution_str=GOOD + " Again.",
                                                   ground_truth=None, extra_info={"prompt": "Lyon?"})
    assert masked["masked"] == 1.0 and masked["score"] == -1.0
    with pytest.raises(ValueError, match="extra_info"):
        compute_score(data_source="f", solution_str=GOOD, ground_truth=None, extra_info={})
