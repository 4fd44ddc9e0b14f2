"""The training reward (docs/reward.md): one number in [0, 1] per answer, or an explicit mask.

It is the run metric `reward` of :mod:`factbench.scoring.metrics` (precision + λ·log(1 + S) +
μ·relevance, computed by the same function), with the detail term capped at `detail_cap`
supported claims and divided by its largest possible value — so the scale is bounded and the
same for every task. Answers without a factual score still get a value:

    empty (nothing left after removing <think> traces)   -> 0
    no verifiable claim                                    -> 0
    abstention ("I could not find information ...")        -> `abstention` (default 0)

A judge failure (a failed call, output that did not parse, a missing label, a relevance order
that did not parse, failed evidence retrieval) masks the answer: reward None, `masked` True and
the error kinds listed — never a 0 or a 1 that the judge did not give.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from factbench.hashing import sha256_hex
from factbench.scoring.metrics import reward_value, score_answer
from factbench.store.records import ClaimsRecord, EvidenceRecord, RelevanceRecord, VerdictsRecord

REWARD_VERSION = "1"
# Kinds in ClaimsRecord.errors that are not judge failures (the answer was only capped in length).
NOT_JUDGE_FAILURES = {"answer_truncated"}
Status = Literal["scored", "empty", "no_claims", "abstained", "masked"]


class RewardSpec(BaseModel):
    """λ, μ, the detail cap, where relevance comes from, and what an abstention earns."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    lam: float = Field(0.1, ge=0)
    mu: float = Field(1.0, ge=0)
    detail_cap: int = Field(64, ge=1)
    relevance: Literal["auto", "references", "model", "none"] = "auto"
    abstention: float = Field(0.0, ge=0, le=1)

    def bound(self, with_relevance: bool) -> float:
        """The largest raw value: every claim supported, S at the cap, relevance 1 (when measured)."""
        return reward_value(1.0, self.detail_cap, 1.0 if with_relevance else None, self.lam, self.mu)

    def identity(self, judges: dict[str, Any], templates: dict[str, str], evidence: str,
                 scoring: dict[str, Any]) -> dict[str, Any]:
        """Everything that changes a reward value; recorded wherever rewards are written."""
        return {"reward": f"factbench-reward-v{REWARD_VERSION}",
                "formula": "(P + lam*log(1+min(S,cap)) + mu*R) / (1 + lam*log(1+cap) + mu*[R measured])",
                **self.model_dump(), "judges": judges, "templates": templates, "evidence": evidence,
                "scoring": scoring}


class LabelledClaim(BaseModel):
    text: str
    sentence: int
    label: str | None  # None: the judge gave no label (see ScoreResult.errors)


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


def empty_result() -> ScoreResult:
    return ScoreResult(reward=0.0, masked=False, status="empty", precision=None, supported=0, unsupported=0,
                       unverifiable=0, n_claims=0, relevance=None, abstained=False, errors=[], claims=[])


def judge_failures(claims: ClaimsRecord, evidence: EvidenceRecord | None, verdicts: VerdictsRecord | None,
                   relevance: RelevanceRecord | None) -> list[str]:
    """Error kinds that make the answer's score untrustworthy (each prefixed by its stage)."""
    kinds = [f"claims:{e}" for e in claims.errors if e not in NOT_JUDGE_FAILURES]
    kinds += [f"evidence:{e.split(':')[0]}" for e in (evidence.errors if evidence else [])]
    if verdicts is not None:
        kinds += [f"verdicts:{e or 'missing_label'}" for e, label in zip(verdicts.errors, verdicts.labels)
                  if label is None]
    if relevance is not None:
        kinds += [f"relevance:{e}" for e in relevance.errors]
        if relevance.score is None and not relevance.errors:
            kinds.append("relevance:no_score")
    return kinds


def outcome(spec: RewardSpec, claims: ClaimsRecord, evidence: EvidenceRecord | None,
            verdicts: VerdictsRecord | None, relevance: RelevanceRecord | None) -> ScoreResult:
    """The reward of one answer from its stage records (the same records a run writes)."""
    failures = judge_failures(claims, evidence, verdicts, relevance)
    notes = [f"claims:{e}" for e in claims.errors if e in NOT_JUDGE_FAILURES]
    if failures:
        return masked(failures + notes, claims)
    score = score_answer(claims, verdicts, relevance, spec.detail_cap, spec.lam, spec.mu)
    labels = verdicts.labels if verdicts else [None] * len(claims.claims)
    if claims.abstained:
        status, reward = "abstained", spec.abstention
    elif not claims.claims:
        status, reward = "no_claims", 0.0
    else:
        status = "scored"
        raw = reward_value(score.precision, min(score.supported, spec.detail_cap), score.relevance, spec.lam, spec.mu)
        reward = raw / spec.bound(score.relevance is not None)
    return ScoreResult(
        reward=reward, masked=False, status=status, precision=score.precision, supported=score.supported,
        unsupported=score.unsupported, unverifiable=score.unverifiable, n_claims=score.claims,
        relevance=score.relevance, abstained=claims.abstained, errors=notes,
        claims=[LabelledClaim(text=c.text, sentence=c.sentence, label=label) for c, label in zip(claims.claims, labels)])


def reward_id(identity: dict[str, Any]) -> str:
    return sha256_hex(identity, 16)
