"""The Scorer against the scripted judge over real HTTP: reuse across loops and threads, a value or
a mask for every answer, relevance sources, records with the reward's identity."""

import asyncio
import json
import math
import threading

import pytest

from factbench.pipeline.options import UsageError
from factbench.reward import Scorer
from factbench.scoring.facts import TERMS_PER_FACT
from factbench.testing.scripted_server import Fault, request_kind

PROMPTS = ["Tell me about the harbour of Lyon."] * 6
RESPONSES = [
    "The harbour of Lyon is documented in source 1. Records from Atlantis mention the harbour. "
    "Perhaps the harbour was noted by scholars.",                      # 1 supported of 3
    "",                                                                # empty
    "<think>Let me recall what I know about Lyon.</think>",            # think-only: nothing left
    "<think>Recall.</think>The harbour of Lyon is documented in source 2.",  # the trace is removed
    "I think it is lovely. I think so.",                               # no verifiable claim
    "I could not find any information about the harbour of Lyon.",     # abstention
]


@pytest.fixture
def scorer(server):
    with Scorer(judge="openai/judge", judge_base_url=server.base_url) as s:
        yield s


def _summary(results):
    return [(r.status, None if r.reward is None else round(r.reward, 6)) for r in results]


def test_every_answer_gets_a_number(scorer):
    results = scorer.score_sync(PROMPTS, RESPONSES)
    assert [r.status for r in results] == ["scored", "empty", "empty", "scored", "no_claims", "abstained"]
    assert all(isinstance(r.reward, float) and 0 <= r.reward <= 1 for r in results)
    first = results[0]
    assert (first.precision, first.supported, first.n_claims) == (pytest.approx(1 / 3), 1, 3)
    assert [c.label for c in first.claims] == ["supported", "unsupported", "unverifiable"]
    assert results[3].precision == 1.0 and results[3].claims[0].text.startswith("The harbour of Lyon")
    assert results[1].reward == results[4].reward == results[5].reward == 0.0


def test_reused_over_two_asyncio_runs_and_the_cache_answers_the_second(scorer, server):
    first = asyncio.run(scorer.score(PROMPTS, RESPONSES))
    calls, verifier_calls = server.state.requests.total(), scorer.stats()["verifier"]["calls"]
    second = asyncio.run(scorer.score(PROMPTS, RESPONSES))
    assert _summary(second) == _summary(first)
    assert server.state.requests.total() == calls  # every judge call came from the cache or the memo
    stats = scorer.stats()
    assert stats["extractor"]["cache_hits"] > 0 and stats["memo"]["verdicts_hits"] > 0
    assert stats["verifier"]["calls"] == verifier_calls  # the verdicts came from the memo, no call at all


def test_from_two_threads_and_from_inside_a_running_loop(scorer):
    expected = _summary(scorer.score_sync(PROMPTS, RESPONSES))
    got: list = []
    threads = [threading.Thread(target=lambda: got.append(_summary(scorer.score_sync(PROMPTS, RESPONSES))))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert got == [expected, expected]

    async def inside_a_loop():  # what a notebook or a web server does
        awaited = await scorer.score(PROMPTS, RESPONSES)
        blocking = scorer.score_sync(PROMPTS[:1], RESPONSES[:1])
        return _summary(awaited), _summary(blocking)

    awaited, blocking = asyncio.run(inside_a_loop())
    assert awaited == expected and blocking == expected[:1]


def test_judge_failures_are_masked_never_scored(server):
    server.state.faults.append(Fault("text:this is not json", when=lambda b: request_kind(b) == "verify"))
    server.state.faults.append(Fault("status:500", when=lambda b: "Zanzibar" in json.dumps(b), times=10))
    with Scorer(judge="openai/judge", judge_base_url=server.base_url, max_retries=0, use_cache=False,
                max_in_flight=1) as scorer:
        results = scorer.score_sync(["Lyon?", "Zanzibar?", "Rome?"],
                                    ["Lyon is documented in source 1.", "Paris is documented in source 1.",
                                     "Rome is documented in source 1."])
    assert [r.masked for r in results] == [True, True, False]
    assert results[0].reward is None and results[0].errors == ["verdicts:invalid_json"]
    assert results[1].errors == ["claims:server_error"]
    assert results[2].reward > 0


def test_relevance_from_references_and_from_a_reference_model(server):
    with Scorer(judge="openai/judge", judge_base_url=server.base_url, reward_mu=1.0) as scorer:
        question = ["Tell me about the harbour of Lyon."]
        on_topic = ["The harbour of Lyon is documented in source 1."]
        with_ref = scorer.score_sync(question, on_topic, references=["It is a place."])[0]
        without = scorer.score_sync(question, on_topic)[0]
    assert with_ref.relevance == 1.0 and without.relevance is None  # more of the question's words: a win
    bound = 1 + 0.1 * math.log(65) + 1.0
    detail = 3 / TERMS_PER_FACT  # the merged design: "documented", "source", 1 beyond the question's words
    assert with_ref.reward == pytest.approx((1 + 0.1 * math.log1p(detail) + 1.0) / bound)
    assert without.reward == pytest.approx((1 + 0.1 * math.log1p(detail) + 0.5) / bound)  # not measured: a tie
    with Scorer(judge="openai/judge", judge_base_url=server.base_url, reference_model="openai/ref",
                reference_model_base_url=server.base_url, reward_relevance="model") as scorer:
        before = server.state.requests["generate"]
        group = scorer.score_sync(question * 4, on_topic * 4)  # one GRPO group: one reference answer
    assert server.state.requests["generate"] - before == 1
    assert all(r.relevance is not None for r in group)
    assert "reference" in scorer.identity["judges"]


def test_records_carry_the_reward_identity(server, tmp_path):
    with Scorer(judge="openai/judge", judge_base_url=server.base_url, records_dir=str(tmp_path / "rec"),
                reward_lambda=0.2) as scorer:
        scorer.score_sync(PROMPTS[:2], RESPONSES[:2])
    identity = json.loads((tmp_path / "rec" / f"reward-{scorer.reward_id}.json").read_text())
    assert identity["lam"] == 0.2 and identity["judges"]["verifier"]["model"] == "openai/judge"
    assert identity["templates"]["claims"].startswith("claims-v3+")
    assert "endpoints" not in json.dumps(identity["judges"])  # provenance, not identity
    rows = [json.loads(x) for f in (tmp_path / "rec").glob("rewards-*.jsonl") for x in f.read_text().splitlines()]
    assert [r["reward_id"] for r in rows] == [scorer.reward_id] * 2
    assert rows[1]["status"] == "empty" and rows[0]["claims"]


def test_bad_input_is_a_clear_error(server):
    with Scorer(judge="openai/judge", judge_base_url=server.base_url) as scorer:
        with pytest.raises(UsageError, match="2 prompts but 1 responses"):
            scorer.score_sync(["a", "b"], ["x"])
        with pytest.raises(UsageError, match=r"responses\[0\] must be a string"):
            scorer.score_sync(["a"], [None])
    with pytest.raises(UsageError, match="belong to a whole run"):
        Scorer(judge="openai/judge", limit=3)
    with pytest.raises(UsageError, match="needs a task"):
        Scorer(judge="openai/judge", evidence="snapshot:results/x")
    with pytest.raises(UsageError, match="reference_model"):
        Scorer(judge="openai/judge", reward_relevance="model")


def test_auto_and_default_evidence_mean_the_same_as_everywhere(server):
    """`auto` and `default` are the task's default evidence; the Scorer's pairs have none."""
    ids = set()
    for evidence in ("auto", "default", "none"):
        with Scorer(judge="openai/judge", judge_base_url=server.base_url, evidence=evidence, use_cache=False) as s:
            assert s.backend.name == "none"
            ids.add(s.reward_id)
    assert len(ids) == 1
