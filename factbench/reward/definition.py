"""The training reward (docs/reward.md): one number in [0, 1] per answer, or an explicit mask.

It is the run's reward, composed by :func:`factbench.scoring.reward.compose_reward` (P + λ·log(1 + D)
+ μ·r; merged, informative or plain design; relevance 0.5 where it is not measured), with the detail D
capped at `detail_cap` and the whole divided by the composer's value for a perfect answer at the
cap — so the scale is bounded and the same for every task and prompt. Answers without a factual
score still get a value:

    empty (nothing left after removing <think> traces)   -> the composer's floor (0)
    no verifiable claim                                    -> the floor (0)
    abstention ("I could not find information ...")        -> `abstention` (default 0)

A judge failure (a failed call, output that did not parse, a missing label or informativeness
class, a relevance order that did not parse, failed evidence retrieval) masks the answer: reward
None, `masked` True and the error kinds listed — never a 0 or a 1 that the judge did not give.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, model_validator

from factbench.hashing import sha256_hex
from factbench.scoring.metrics import score_answer
from factbench.scoring.reward import FLOOR, RewardSpec
from factbench.store.records import (
    ClaimsRecord,
    EvidenceRecord,
    InformativenessRecord,
    RelevanceRecord,
    VerdictsRecord,
)

# Version 3: the default design is "merged" (P and D on merged facts, so splitting sentences pays
# nothing); version 2's default was "informative". An identity records its design and version, so
# a version-2 id still says which reward it was: RewardSpec(**identity fields) gives it back.
REWARD_VERSION = "3"
# Kinds in ClaimsRecord.errors that are not judge failures (the answer was only capped in length).
NOT_JUDGE_FAILURES = {"answer_truncated"}
Status = Literal["scored", "empty", "no_claims", "abstained", "masked"]


# The training reward's specification is the one reward spec (scoring/reward.py); the old name stays.
TrainingReward = RewardSpec


def reward_identity(spec: RewardSpec, judges: dict[str, Any], templates: dict[str, str], evidence: str,
                    scoring: dict[str, Any]) -> dict[str, Any]:
    """Everything that changes a reward value; recorded wherever rewards are written."""
    return {"reward": f"factbench-reward-v{REWARD_VERSION}",
            "formula": "compose_reward(design, lam, mu; S and D capped at detail_cap) / its value at "
                       "P = 1, D = detail_cap, relevance = 1",
            "composition": spec.composition.describe(), **spec.model_dump(), "judges": judges,
            "templates": templates, "evidence": evidence, "scoring": scoring}


class LabelledClaim(BaseModel):
    text: str
    sentence: int
    label: str | None  # None: the judge gave no label (see ScoreResult.errors)
    informativeness: str | None = None  # informativeness class, when the claims were weighed


class ScoreResult(BaseModel):
    """One answer's reward and how it came about."""

    reward: float | None  # in [0, 1]; None exactly when masked
    masked: bool
    status: Status
    precision: float | None
    supported: int
    unsupported: int
    unverifiable: int
    n_claims: int
    weighted_precision: float | None = None
    weighted_supported: float | None = None
    merged_precision: float | None = None  # the merged design's P and D (docs/metrics.md)
    merged_detail: float | None = None
    relevance: float | None
    abstained: bool
    errors: list[str]
    claims: list[LabelledClaim]

    @model_validator(mode="after")
    def _mask_is_none(self) -> ScoreResult:
        if self.masked != (self.reward is None):
            raise ValueError("a reward is None exactly when it is masked")
        return self


def masked(errors: list[str], claims: ClaimsRecord | None = None) -> ScoreResult:
    return ScoreResult(reward=None, masked=True, status="masked", precision=None, supported=0, unsupported=0,
                       unverifiable=0, n_claims=len(claims.claims) if claims else 0, relevance=None,
                       abstained=bool(claims and claims.abstained), errors=errors,
                       claims=[LabelledClaim(text=c.text, sentence=c.sentence, label=None)
                               for c in (claims.claims if claims else [])])


def empty_result(spec: TrainingReward) -> ScoreResult:
    return ScoreResult(reward=FLOOR / spec.bound, masked=False, status="empty", precision=None, supported=0,
                       unsupported=0, unverifiable=0, n_claims=0, relevance=None, abstained=False, errors=[],
                       claims=[])


def judge_failures(claims: ClaimsRecord, evidence: EvidenceRecord | None, verdicts: VerdictsRecord | None,
                   informativeness: InformativenessRecord | None, relevance: RelevanceRecord | None) -> list[str]:
    """Error kinds that make the answer's score untrustworthy (each prefixed by its stage)."""
    kinds = [f"claims:{e}" for e in claims.errors if e not in NOT_JUDGE_FAILURES]
    kinds += [f"evidence:{e.split(':')[0]}" for e in (evidence.errors if evidence else [])]
    if verdicts is not None:
        kinds += [f"verdicts:{e or 'missing_label'}" for e, label in zip(verdicts.errors, verdicts.labels)
                  if label is None]
    if informativeness is not None:
        kinds += [f"informativeness:{e or 'missing_class'}" for e, cls in zip(informativeness.errors, informativeness.classes) if cls is None]
    if relevance is not None:
        kinds += [f"relevance:{e}" for e in relevance.errors]
        if relevance.score is None and not relevance.errors:
            kinds.append("relevance:no_score")
    return kinds


def outcome(spec: TrainingReward, claims: ClaimsRecord, evidence: EvidenceRecord | None,
            verdicts: VerdictsRecord | None, informativeness: InformativenessRecord | None,
            relevance: RelevanceRecord | None, question: str | None = None) -> ScoreResult:
    """The reward of one answer from its stage records (the same records a run writes); the
    question's own words are not content of the merged design's facts."""
    failures = judge_failures(claims, evidence, verdicts, informativeness, relevance)
    notes = [f"claims:{e}" for e in claims.errors if e in NOT_JUDGE_FAILURES]
    if failures:
        return masked(failures + notes, claims)
    score = score_answer(claims, verdicts, relevance, spec.detail_cap, spec.lam, spec.mu, informativeness, spec.design,
                         question=question)
    status: Status
    if claims.abstained:
        status, reward = "abstained", spec.abstention
    else:  # no claim: the composer's floor; otherwise the capped, bounded reward
        status, reward = ("scored" if claims.claims else "no_claims"), spec.value(score)
    labels = verdicts.labels if verdicts else [None] * len(claims.claims)
    classes = informativeness.classes if informativeness else [None] * len(claims.claims)
    return ScoreResult(
        reward=reward, masked=False, status=status, precision=score.precision, supported=score.supported,
        unsupported=score.unsupported, unverifiable=score.unverifiable, n_claims=score.claims,
        weighted_precision=score.weighted_precision, weighted_supported=score.weighted_supported,
        merged_precision=score.merged_precision, merged_detail=score.merged_detail,
        relevance=score.relevance, abstained=claims.abstained, errors=notes,
        claims=[LabelledClaim(text=c.text, sentence=c.sentence, label=label, informativeness=cls)
                for c, label, cls in zip(claims.claims, labels, classes)])


def reward_id(identity: dict[str, Any]) -> str:
    return sha256_hex(identity, 16)
