"""Precision and detail on merged facts: the same facts count the same however they are cut."""

from __future__ import annotations

import math

import pytest

from factbench.scoring.facts import TERMS_PER_FACT, merged_terms

Q = "Tell me a bio of Ada Morrow."


def test_splitting_a_claim_changes_neither_value():
    whole = merged_terms(["Ada Morrow was born in Lyon in 1950."], ["supported"], None, Q)
    split = merged_terms(["Ada Morrow was born in Lyon.", "Ada Morrow was born in 1950."],
                         ["supported", "supported"], None, Q)
    assert whole == split
    assert whole.detail == pytest.approx(3 / TERMS_PER_FACT) and whole.precision == 1.0  # born, lyon, 1950


def test_unsupported_content_lowers_precision_and_classes_weigh_claims():
    m = merged_terms(["Ada Morrow was born in Lyon.", "Ada Morrow won the Vessel Prize.", "Ada Morrow has a name.",
                      "Copper has the chemical symbol Cu."], ["supported", "unsupported", "supported", "supported"],
                     ["informative", "informative", "trivial", "off_topic"], Q)
    # supported informative: {born, lyon}; judged: those + {won, vessel, prize} + the off-topic claim's 4 terms
    assert m.detail == pytest.approx(2 / TERMS_PER_FACT) and m.precision == pytest.approx(2 / 9)
    assert merged_terms(["Ada Morrow was born."], [None], None, Q).precision is None


def test_the_merged_design_composes_the_merged_terms():
    from factbench.scoring.reward import RewardSpec, compose_reward, reward_of_row

    row = {"abstained": False, "precision": 0.5, "supported": 4, "weighted_precision": 0.5,
           "weighted_supported": 4.0, "relevance": None, "merged_precision": 0.8, "merged_detail": 3.0}
    assert reward_of_row(RewardSpec("merged"), row) == pytest.approx(0.8 + 0.1 * math.log(4))
    assert reward_of_row(RewardSpec("informative"), row) == pytest.approx(0.5 + 0.1 * math.log(5))
    with pytest.raises(ValueError, match="merged terms"):
        compose_reward(RewardSpec("merged"), abstained=False, precision=0.5, supported=1)
