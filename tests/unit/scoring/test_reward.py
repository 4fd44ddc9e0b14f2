import math

import pytest

from factbench.scoring.metrics import score_answer
from factbench.scoring.reward import FLOOR, RELEVANCE_FALLBACK, RewardSpec, compose_reward, reward_of_row
from factbench.scoring.weighting import weighted_terms
from factbench.store.records import (
    Claim,
    ClaimsRecord,
    InformativenessRecord,
    RelevanceRecord,
    VerdictsRecord,
)


def _records(labels, classes, abstained=False):
    claims = ClaimsRecord(task="t", id="x", abstained=abstained, sentences=["s"],
                          claims=[Claim(text=f"c{i}", sentence=0) for i in range(len(labels))], extractor="e")
    verdicts = VerdictsRecord(task="t", id="x", labels=labels, errors=[None] * len(labels), verifier="v",
                              evidence_backend="none")
    informativeness = InformativenessRecord(task="t", id="x", classes=classes, same_as=[None] * len(classes),
                            errors=[None if c else "missing_class" for c in classes], judge="w")
    return claims, verdicts, informativeness


def test_weighted_terms_ignore_trivial_and_restated_and_count_off_topic_against():
    labels = ["supported", "unsupported", "supported", "supported", "supported", "supported", None]
    classes = ["informative", "informative", "trivial", "restates", "off_topic", None, "informative"]
    t = weighted_terms(labels, classes)
    # informative: 1 supported of 2; off_topic: in the denominator only; the rest left out
    assert t.precision == pytest.approx(1 / 3)
    assert t.supported == 1
    assert t.classified == 5 and t.on_topic == pytest.approx(4 / 5)
    assert weighted_terms(["supported"], ["trivial"]).precision is None


def test_padding_with_trivial_facts_or_restatements_leaves_the_informative_reward_unchanged():
    c, v, w = _records(["supported", "unsupported"], ["informative", "informative"])
    base = score_answer(c, v, None, 10, informativeness=w, design="informative")
    c, v, w = _records(["supported", "unsupported"] + ["supported"] * 6, ["informative", "informative"] +
                       ["trivial"] * 3 + ["restates"] * 3)
    padded = score_answer(c, v, None, 10, informativeness=w, design="informative")
    assert padded.precision > base.precision and padded.supported == 7
    assert padded.reward == base.reward == pytest.approx(0.5 + 0.1 * math.log(2))
    plain = score_answer(c, v, None, 10, informativeness=w, design="plain")
    assert plain.reward > base.reward  # the unweighted design pays for the padding


def test_off_topic_padding_lowers_the_informative_reward():
    c, v, w = _records(["supported"] * 2, ["informative"] * 2)
    clean = score_answer(c, v, None, 10, informativeness=w, design="informative")
    c, v, w = _records(["supported"] * 4, ["informative"] * 2 + ["off_topic"] * 2)
    padded = score_answer(c, v, None, 10, informativeness=w, design="informative")
    assert padded.precision == clean.precision == 1.0
    assert padded.weighted_precision == pytest.approx(0.5) and padded.reward < clean.reward
    assert padded.on_topic == pytest.approx(0.5)


def test_nothing_to_credit_gets_the_floor_and_relevance_has_one_scale():
    c, v, w = _records([], [], abstained=True)
    assert score_answer(c, v, None, 10, informativeness=w).reward == FLOOR
    c, v, w = _records([], [])  # no verifiable claim in the answer
    assert score_answer(c, v, None, 10, informativeness=w).reward == FLOOR
    c, v, w = _records([None], [None])  # claims, none labelled: a judge failure is no reward, not the floor
    failed = score_answer(c, v, None, 10, informativeness=w)
    assert failed.reward is None and failed.unscored and failed.status == "judge_failed"
    spec = RewardSpec("informative", 0.0, 2.0)
    c, v, w = _records(["supported"], ["informative"])
    without = score_answer(c, v, None, 10, spec.lam, spec.mu, w).reward
    rel = RelevanceRecord(task="t", id="x", reference_source="task", winners=["tie", "tie"], score=0.5, judge="r")
    with_tie = score_answer(c, v, rel, 10, spec.lam, spec.mu, w).reward
    assert without == with_tie == pytest.approx(1.0 + 2.0 * RELEVANCE_FALLBACK)


def test_informative_design_needs_informativeness_and_rows_recompose():
    with pytest.raises(ValueError, match="needs claim weights"):
        compose_reward(RewardSpec("informative"), abstained=False, precision=1.0, supported=3)
    with pytest.raises(ValueError, match="unknown reward design"):
        RewardSpec("fancy")
    row = {"abstained": False, "precision": 0.5, "supported": 3, "weighted_precision": 0.25,
           "weighted_supported": 1.0, "relevance": None}
    assert reward_of_row(RewardSpec("plain", 0.0, 0.0), row) == 0.5
    assert reward_of_row(RewardSpec("informative"), row) == pytest.approx(0.25 + 0.1 * math.log(2))
