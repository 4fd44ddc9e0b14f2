"""The training reward's values: the run's composer, capped and bounded; one value per answer; masks."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factbench.reward.definition import TrainingReward, outcome
from factbench.scoring.facts import TERMS_PER_FACT
from factbench.scoring.metrics import score_answer
from factbench.store.records import (
    Claim,
    ClaimsRecord,
    EvidenceRecord,
    InformativenessRecord,
    RelevanceRecord,
    VerdictsRecord,
)

PLAIN = TrainingReward(design="plain")
BOUND = 1 + 0.1 * math.log(65)  # defaults: lambda 0.1, mu 0, cap 64


def _claims(n, abstained=False, errors=()):
    return ClaimsRecord(task="reward", id="x", abstained=abstained, sentences=["s"] * max(1, n),
                        claims=[Claim(text=f"claim {i}", sentence=0) for i in range(n)], extractor="e",
                        errors=list(errors))


def _verdicts(labels, errors=None):
    return VerdictsRecord(task="reward", id="x", labels=labels, verifier="v", evidence_backend="none",
                          errors=errors or [None if lab else "unknown_label" for lab in labels])


def _informativeness(classes):
    return InformativenessRecord(task="reward", id="x", classes=classes, same_as=[None] * len(classes),
                         errors=[None if c else "unknown_class" for c in classes], judge="w")


def _relevance(score, errors=()):
    return RelevanceRecord(task="reward", id="x", reference_source="given", winners=["win", "win"], score=score,
                           errors=list(errors), judge="r")


def test_plain_reward_is_the_run_reward_divided_by_its_bound():
    claims, verdicts = _claims(4), _verdicts(["supported", "supported", "unsupported", "unverifiable"])
    r = outcome(PLAIN, claims, None, verdicts, None, None)
    run_reward = score_answer(claims, verdicts, None, 64, design="plain").reward
    assert r.status == "scored" and not r.masked
    assert r.reward == pytest.approx(run_reward / BOUND) == pytest.approx((0.5 + 0.1 * math.log(3)) / BOUND)
    assert (r.precision, r.supported, r.n_claims) == (0.5, 2, 4)
    assert [c.label for c in r.claims] == ["supported", "supported", "unsupported", "unverifiable"]


def test_informative_design_uses_the_weighted_terms():
    labels = ["supported", "supported", "supported", "unsupported"]
    classes = ["informative", "trivial", "off_topic", "informative"]
    r = outcome(TrainingReward(design="informative"), _claims(4), None, _verdicts(labels), _informativeness(classes), None)
    # weighted: numerator 1 (one informative supported), denominator 3 (two informative + one off-topic)
    assert r.weighted_precision == pytest.approx(1 / 3) and r.weighted_supported == 1.0
    assert r.reward == pytest.approx((1 / 3 + 0.1 * math.log(2)) / BOUND)
    assert [c.informativeness for c in r.claims] == classes


def test_the_default_design_counts_merged_facts_so_splitting_a_claim_pays_nothing():
    question = "Tell me a bio of Ada Morrow."
    whole = ClaimsRecord(task="reward", id="x", abstained=False, sentences=["Ada Morrow was born in Lyon in 1950."],
                         claims=[Claim(text="Ada Morrow was born in Lyon in 1950.", sentence=0)], extractor="e")
    split = ClaimsRecord(task="reward", id="x", abstained=False,
                         sentences=["Ada Morrow was born in Lyon.", "She was born in 1950."],
                         claims=[Claim(text="Ada Morrow was born in Lyon.", sentence=0),
                                 Claim(text="Ada Morrow was born in 1950.", sentence=1)], extractor="e")
    one = outcome(TrainingReward(), whole, None, _verdicts(["supported"]), _informativeness(["informative"]), None,
                  question=question)
    two = outcome(TrainingReward(), split, None, _verdicts(["supported"] * 2), _informativeness(["informative"] * 2), None,
                  question=question)
    assert TrainingReward().design == "merged"
    assert one.reward == two.reward == pytest.approx((1 + 0.1 * math.log(1 + 3 / TERMS_PER_FACT)) / BOUND)
    assert (one.merged_precision, one.merged_detail) == (two.merged_precision, two.merged_detail)
    per_claim = TrainingReward(design="informative")  # the former default pays for the second claim
    assert outcome(per_claim, split, None, _verdicts(["supported"] * 2), _informativeness(["informative"] * 2), None,
                   question=question).reward > outcome(per_claim, whole, None, _verdicts(["supported"]),
                                                       _informativeness(["informative"]), None, question=question).reward


def test_relevance_term_with_mu_and_the_tie_fallback():
    spec = TrainingReward(design="plain", mu=1.0)
    bound = BOUND + 1.0
    measured = outcome(spec, _claims(1), None, _verdicts(["supported"]), None, _relevance(1.0))
    unmeasured = outcome(spec, _claims(1), None, _verdicts(["supported"]), None, None)
    assert measured.reward == pytest.approx((1 + 0.1 * math.log(2) + 1.0) / bound)
    assert unmeasured.reward == pytest.approx((1 + 0.1 * math.log(2) + 0.5) / bound)


def test_detail_is_capped_so_the_top_is_one():
    spec = TrainingReward(design="plain", detail_cap=3)
    r = outcome(spec, _claims(10), None, _verdicts(["supported"] * 10), None, None)
    assert r.reward == pytest.approx(1.0)
    assert r.supported == 10  # the count itself is reported uncapped


def test_answers_without_a_factual_score_still_get_a_value():
    none = outcome(PLAIN, _claims(0), None, None, None, None)
    assert (none.status, none.reward) == ("no_claims", 0.0)
    abstained = outcome(TrainingReward(abstention=0.3), _claims(0, abstained=True), None, None, None, None)
    assert (abstained.status, abstained.reward, abstained.abstained) == ("abstained", 0.3, True)


@pytest.mark.parametrize("records,kind", [
    ((_claims(2, errors=["invalid_json"]), None, _verdicts(["supported", "supported"]), None, None),
     "claims:invalid_json"),
    ((_claims(2), None, _verdicts(["supported", None]), None, None), "verdicts:unknown_label"),
    ((_claims(2), None, _verdicts(["supported"] * 2), _informativeness(["informative", None]), None), "informativeness:unknown_class"),
    ((_claims(1), None, _verdicts(["supported"]), None, _relevance(None, ["invalid_json"])), "relevance:invalid_json"),
    ((_claims(1), EvidenceRecord(task="reward", id="x", backend="serper", passages=[], per_claim=[[]],
                                 errors=["search_failed: boom"]), _verdicts(["supported"]), None, None),
     "evidence:search_failed"),
])
def test_judge_failures_mask_the_answer(records, kind):
    r = outcome(PLAIN, *records)
    assert r.masked and r.reward is None and r.status == "masked"
    assert kind in r.errors


def test_a_capped_long_answer_is_scored_and_flagged_not_masked():
    r = outcome(PLAIN, _claims(1, errors=["answer_truncated"]), None, _verdicts(["supported"]), None, None)
    assert not r.masked and r.errors == ["claims:answer_truncated"]


@given(s=st.integers(0, 300), u=st.integers(0, 300), v=st.integers(0, 30), rel=st.sampled_from([None, 0.0, 0.5, 1.0]),
       lam=st.floats(0, 2), mu=st.floats(0, 2), cap=st.integers(1, 200),
       design=st.sampled_from(["merged", "informative", "plain"]))
@settings(deadline=None)  # the merged design tokenizes every claim: no timing is asserted here
def test_reward_is_bounded_for_any_counts(s, u, v, rel, lam, mu, cap, design):
    if s + u + v == 0:
        return
    labels = ["supported"] * s + ["unsupported"] * u + ["unverifiable"] * v
    classes = [("informative", "trivial", "restates", "off_topic")[i % 4] for i in range(len(labels))]
    spec = TrainingReward(design=design, lam=lam, mu=mu, detail_cap=cap)
    r = outcome(spec, _claims(len(labels)), None, _verdicts(labels), _informativeness(classes) if spec.weighted else None,
                _relevance(rel) if rel is not None else None)
    assert 0.0 <= r.reward <= 1.0 + 1e-12


def test_spec_rejects_out_of_range_values():
    for bad in ({"lam": -1}, {"detail_cap": 0}, {"abstention": 2}, {"relevance": "sometimes"}, {"design": "x"}):
        with pytest.raises(ValueError):  # a pydantic ValidationError, or the unknown design named
            TrainingReward(**bad)


def test_version_3_ids_differ_and_a_version_2_identity_still_reads_as_its_reward():
    from factbench.reward.definition import REWARD_VERSION, reward_id, reward_identity

    args = ({"verifier": {"model": "openai/judge"}}, {"claims": "claims-v2"}, "none", {})
    now = reward_identity(TrainingReward(), *args)
    assert REWARD_VERSION == "3" and now["reward"] == "factbench-reward-v3" and now["design"] == "merged"
    old = {**reward_identity(TrainingReward(design="informative"), *args), "reward": "factbench-reward-v2"}
    assert reward_id(old) != reward_id(now)
    # what ServiceScorer.spec does with a service's identity: an old one gives back the old design
    spec = TrainingReward(**{k: old[k] for k in TrainingReward.model_fields if k in old})
    assert spec == TrainingReward(design="informative")
