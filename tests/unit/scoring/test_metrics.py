import math

import numpy as np
import pytest

from factbench.scoring.metrics import aggregate, bootstrap_ci, f1_at_k, length_penalised, score_answer
from factbench.store.records import AnswerRecord, Claim, ClaimsRecord, RelevanceRecord, VerdictsRecord


def _rec(labels, abstained=False, errors=None):
    claims = ClaimsRecord(task="t", id="x", abstained=abstained, sentences=["s"],
                          claims=[Claim(text=f"c{i}", sentence=0) for i in range(len(labels))], extractor="e")
    verdicts = VerdictsRecord(task="t", id="x", labels=labels, errors=errors or [None if lab else "missing_label" for lab in labels],
                              verifier="v", evidence_backend="none")
    return claims, verdicts


def test_precision_counts_unverifiable_as_not_supported_and_skips_errors():
    c, v = _rec(["supported", "supported", "unsupported", "unverifiable", None])
    s = score_answer(c, v, None, k=4)
    assert (s.supported, s.unsupported, s.unverifiable, s.judge_errors) == (2, 1, 1, 1)
    assert s.precision == pytest.approx(0.5)
    assert s.hallucination_rate == pytest.approx(0.5)
    # F1@4: P = 0.5, R = 2/4 = 0.5 -> 0.5
    assert s.f1_at_k == pytest.approx(0.5)
    # 5 claims < gamma 10: 0.5 * exp(1 - 10/5) = 0.5 * e^-1
    assert s.factscore == pytest.approx(0.5 * math.exp(-1))
    # reward = P + 0.1 * log(1 + 2), no relevance measured
    assert s.reward == pytest.approx(0.5 + 0.1 * math.log(3))


def test_f1_and_length_penalty_edges():
    assert f1_at_k(1.0, 0, 10) == 0.0
    assert f1_at_k(1.0, 20, 10) == pytest.approx(1.0)  # recall capped at 1
    assert f1_at_k(0.8, 5, 10) == pytest.approx(2 * 0.8 * 0.5 / 1.3)
    assert length_penalised(0.9, 12) == pytest.approx(0.9)
    assert length_penalised(0.9, 0) == 0.0


def test_abstention_excluded_from_precision_counted_in_rate():
    c1, v1 = _rec(["supported", "unsupported"])
    c2, _ = _rec([], abstained=True)
    scores = [score_answer(c1, v1, None, 10), score_answer(c2, None, None, 10)]
    agg = aggregate(scores)
    assert agg["n_abstained"] == 1
    assert agg["abstention_rate"]["mean"] == pytest.approx(0.5)
    assert agg["metrics"]["precision"]["mean"] == pytest.approx(0.5)
    assert agg["metrics"]["precision"]["n"] == 1


def test_relevance_enters_reward():
    c, v = _rec(["supported"])
    rel = RelevanceRecord(task="t", id="x", reference_source="task", winners=["win", "tie"], score=0.75, judge="r")
    s = score_answer(c, v, rel, 10, lam=0.0, mu=2.0)
    assert s.reward == pytest.approx(1.0 + 1.5)


def test_bootstrap_ci_is_seeded_and_brackets_mean():
    values = np.array([0.1, 0.9, 0.5, 0.4, 0.7, 0.3, 0.8, 0.2])
    lo, hi = bootstrap_ci(values, seed=3)
    assert (lo, hi) == bootstrap_ci(values, seed=3)
    assert lo < values.mean() < hi
    assert bootstrap_ci(np.array([]), seed=0) is None
    assert bootstrap_ci(np.array([0.4]), seed=0) == (0.4, 0.4)


def _answer(text, reasoning=None):
    return AnswerRecord(task="t", id="x", prompt_sha="p", answer=text, reasoning=reasoning, source="generated")


def test_every_kind_of_answer_has_a_documented_value():
    empty = ClaimsRecord(task="t", id="x", abstained=False, sentences=[], claims=[], extractor="e")
    no_verdicts = VerdictsRecord(task="t", id="x", labels=[], errors=[], verifier="v", evidence_backend="none")
    s = score_answer(empty, no_verdicts, None, 10, answer=_answer(""))
    assert (s.status, s.precision, s.f1_at_k, s.factscore, s.reward, s.unscored) == ("empty", None, 0.0, 0.0, 0.0, False)
    assert score_answer(empty, no_verdicts, None, 10, answer=_answer("", "thinking")).status == "think_only"
    # With relevance measured, an answer with nothing to judge loses to the reference.
    s = score_answer(empty, no_verdicts, None, 10, mu=1.0, answer=_answer(""), relevance_measured=True)
    assert (s.relevance, s.reward) == (0.0, 0.0)
    claimless = ClaimsRecord(task="t", id="x", abstained=False, sentences=["I think so."], claims=[], extractor="e")
    rel = RelevanceRecord(task="t", id="x", reference_source="task", winners=["win", "win"], score=1.0, judge="r")
    s = score_answer(claimless, no_verdicts, rel, 10, mu=0.5, answer=_answer("I think so."), relevance_measured=True)
    assert (s.status, s.precision, s.f1_at_k, s.relevance, s.reward) == ("no_claims", None, 0.0, 1.0, 0.0)  # floor
    c, _ = _rec([], abstained=True)
    s = score_answer(c, None, None, 10)
    assert (s.status, s.precision, s.f1_at_k, s.factscore, s.reward) == ("abstained", None, 0.0, None, 0.0)
    c, v = _rec(["unsupported", "unsupported"])
    s = score_answer(c, v, None, 10)
    assert (s.status, s.precision, s.f1_at_k, s.reward) == ("scored", 0.0, 0.0, 0.0)  # S = 0: the floor
    c, v = _rec([None, None])
    s = score_answer(c, v, None, 10)
    assert (s.status, s.reward, s.unscored, s.incomplete) == ("judge_failed", None, True, True)
    failed_extraction = ClaimsRecord(task="t", id="x", abstained=False, sentences=["a b c"], claims=[], extractor="e",
                                     missing_sentences=[0])
    assert score_answer(failed_extraction, no_verdicts, None, 10).status == "judge_failed"  # not "no claims"
    c, v = _rec(["supported"])
    s = score_answer(c, v, None, 10, mu=1.0, relevance_measured=True)  # the relevance judge failed for it
    assert s.precision == 1.0 and s.reward is None and s.unscored
    assert score_answer(c, v, None, 10, mu=0.0, relevance_measured=True).reward is not None  # no relevance term


def test_aggregate_counts_every_status_and_says_what_each_mean_is_over():
    c1, v1 = _rec(["supported", "unsupported"])
    c2, _ = _rec([], abstained=True)
    c3, v3 = _rec([None])
    scores = [score_answer(c1, v1, None, 10), score_answer(c2, None, None, 10), score_answer(c3, v3, None, 10)]
    agg = aggregate(scores)
    assert (agg["n_answers"], agg["n_scored"], agg["n_unscored"], agg["n_abstained"]) == (3, 2, 1, 1)
    assert agg["answer_status"]["judge_failed"] == 1 and agg["answer_status"]["scored"] == 1
    assert agg["metrics"]["reward"]["n"] == 2 and agg["metrics"]["precision"]["n"] == 1
    assert agg["judge_error_rate"] == pytest.approx(1 / 3) and agg["unscored_rate"] == pytest.approx(1 / 3)
