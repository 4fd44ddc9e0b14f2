"""The training reward's values: bounded, one per answer, masks for judge failures."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from factbench.reward.definition import RewardSpec, outcome
from factbench.store.records import Claim, ClaimsRecord, EvidenceRecord, RelevanceRecord, VerdictsRecord

SPEC = RewardSpec()


def _claims(n, abstained=False, errors=()):
    return ClaimsRecord(task="reward", id="x", abstained=abstained, sentences=["s"] * max(1, n),
                        claims=[Claim(text=f"claim {i}", sentence=0) for i in range(n)], extractor="e",
                        errors=list(errors))


def _verdicts(labels, errors=None):
    return VerdictsRecord(task="reward", id="x", labels=labels, verifier="v", evidence_backend="none",
                          errors=errors or [None if lab else "unknown_label" for lab in labels])


def _relevance(score, errors=()):
    return RelevanceRecord(task="reward", id="x", reference_source="given", winners=["win", "win"], score=score,
                           errors=list(errors), judge="r")


def test_scored_answer_is_the_metric_reward_divided_by_its_bound():
    r = outcome(SPEC, _claims(4), None, _verdicts(["supported", "supported", "unsupported", "unverifiable"]), None)
    assert r.status == "scored" and not r.masked
    assert r.reward == pytest.approx((0.5 + 0.1 * math.log(3)) / (1 + 0.1 * math.log(65)))
    assert (r.precision, r.supported, r.n_claims) == (0.5, 2, 4)
    assert [c.label for c in r.claims] == ["supported", "supported", "unsupported", "unverifiable"]


def test_relevance_term_and_its_bound():
    r = outcome(SPEC, _claims(1), None, _verdicts(["supported"]), _relevance(0.5))
    assert r.relevance == 0.5
    assert r.reward == pytest.approx((1 + 0.1 * math.log(2) + 0.5) / (1 + 0.1 * math.log(65) + 1))


def test_detail_is_capped_so_the_top_is_one():
    spec = RewardSpec(detail_cap=3)
    r = outcome(spec, _claims(10), None, _verdicts(["supported"] * 10), None)
    assert r.reward == pytest.approx(1.0)
    assert r.supported == 10  # the count itself is reported uncapped


def test_answers_without_a_factual_score_still_get_a_value():
    assert outcome(SPEC, _claims(0), None, None, None).model_dump(include={"status", "reward"}) == \
        {"status": "no_claims", "reward": 0.0}
    abstained = outcome(RewardSpec(abstention=0.3), _claims(0, abstained=True), None, None, None)
    assert (abstained.status, abstained.reward, abstained.abstained) == ("abstained", 0.3, True)


@pytest.mark.parametrize("records,kind", [
    ((_claims(2, errors=["invalid_json"]), None, _verdicts(["supported", "supported"]), None), "claims:invalid_json"),
    ((_claims(2), None, _verdicts(["supported", None]), None), "verdicts:unknown_label"),
    ((_claims(1), None, _verdicts(["supported"]), _relevance(None, ["invalid_json"])), "relevance:invalid_json"),
    ((_claims(1), EvidenceRecord(task="reward", id="x", backend="serper", passages=[], per_claim=[[]],
                                 errors=["search_failed: boom"]), _verdicts(["supported"]), None), "evidence:search_failed"),
])
def test_judge_failures_mask_the_answer(records, kind):
    r = outcome(SPEC, *records)
    assert r.masked and r.reward is None and r.status == "masked"
    assert kind in r.errors


def test_a_capped_long_answer_is_scored_and_flagged_not_masked():
    r = outcome(SPEC, _claims(1, errors=["answer_truncated"]), None, _verdicts(["supported"]), None)
    assert not r.masked and r.errors == ["claims:answer_truncated"]


@given(s=st.integers(0, 500), u=st.integers(0, 500), v=st.integers(0, 50), rel=st.sampled_from([None, 0.0, 0.5, 1.0]),
       lam=st.floats(0, 2), mu=st.floats(0, 2), cap=st.integers(1, 200))
def test_reward_is_bounded_for_any_counts(s, u, v, rel, lam, mu, cap):
    if s + u + v == 0:
        return
    labels = ["supported"] * s + ["unsupported"] * u + ["unverifiable"] * v
    r = outcome(RewardSpec(lam=lam, mu=mu, detail_cap=cap), _claims(len(labels)), None, _verdicts(labels),
                _relevance(rel) if rel is not None else None)
    assert 0.0 <= r.reward <= 1.0 + 1e-12


def test_spec_rejects_out_of_range_values():
    for bad in ({"lam": -1}, {"detail_cap": 0}, {"abstention": 2}, {"relevance": "sometimes"}):
        with pytest.raises(ValidationError):
            RewardSpec(**bad)
