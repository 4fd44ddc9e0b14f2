"""The one place the reward is composed from an answer's terms.

    reward = P + lambda * log(1 + D) + mu * r

- design "merged" (default): P and D measured on the merged content of the claims, weighted by
  their informativeness class (:mod:`factbench.scoring.facts`): the same facts count the same
  whether they come in one claim or sentence or several, said once or restated; trivial facts
  add nothing and off-topic claims lower P.
- design "informative": P and D are the weighted precision and the number of supported
  informative claims (:mod:`factbench.scoring.weighting`); padding cannot raise them, but
  cutting the same facts into more sentences raises both (`factbench hacks`, split).
- design "plain": P is precision and D the number of supported claims (the reward before
  informativeness; `factbench hacks` shows how it is hacked).
- r is the pairwise relevance against a reference where it was measured; elsewhere it is
  RELEVANCE_FALLBACK (0.5, a tie), so rewards of tasks with and without references are on
  one scale. The default mu is 0: the per-claim off-topic check already carries relevance.
- An answer with nothing to credit (an abstention, or no labelled claim) gets FLOOR.
"""

from __future__ import annotations

import math
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

DESIGNS = ("merged", "informative", "plain")
DEFAULT_DESIGN: Final = "merged"
DEFAULT_LAMBDA = 0.1
DEFAULT_MU = 0.0
RELEVANCE_FALLBACK = 0.5
FLOOR = 0.0
DEFAULT_DETAIL_CAP = 64  # the training reward: supported claims beyond this add nothing to D


FORMULAS = {
    "informative": "reward = Pw + λ·ln(1 + Dw) + μ·r (Pw, Dw: precision and supported claims with trivial, "
                   "restated and off-topic claims weighted down; r: relevance, 0.5 where not judged; 0 for an "
                   "answer with no labelled claim)",
    "merged": "reward = Pm + λ·ln(1 + Dm) + μ·r (Pm, Dm: precision and detail on the merged content of the "
              "claims, weighted as in the informative design, Dm in facts; r: relevance, 0.5 where not judged; 0 "
              "for an answer with no labelled claim)",
    "plain": "reward = P + λ·ln(1 + S) + μ·r (P: precision, S: supported claims; r: relevance, 0.5 where not "
             "judged; 0 for an answer with no labelled claim)",
}


def formula(design: str, lam: float, mu: float) -> str:
    """The reward as a reader sees it: the design's formula with its parameters."""
    return f"{FORMULAS[design]}, with λ = {lam:g}, μ = {mu:g}"


class RewardSpec(BaseModel):
    """The one reward specification: the composer's design, λ and μ, and for the training reward
    (docs/reward.md) the detail cap, where relevance references come from and the value of an
    abstention. `RewardSpec("plain", 0.1, 0.0)` works as well as keywords."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    design: Literal["merged", "informative", "plain"] = DEFAULT_DESIGN
    lam: float = Field(DEFAULT_LAMBDA, ge=0)
    mu: float = Field(DEFAULT_MU, ge=0)
    detail_cap: int = Field(DEFAULT_DETAIL_CAP, ge=1)
    relevance: Literal["auto", "references", "model", "none"] = "auto"
    abstention: float = Field(0.0, ge=0, le=1)

    def __init__(self, design: str = DEFAULT_DESIGN, lam: float = DEFAULT_LAMBDA, mu: float = DEFAULT_MU,
                 **more: Any):
        if design not in DESIGNS:
            raise ValueError(f"unknown reward design {design!r} (one of {', '.join(DESIGNS)})")
        super().__init__(design=design, lam=lam, mu=mu, **more)

    def with_informativeness(self, informativeness: bool) -> RewardSpec:
        """The reward actually composed: without claim weights the weighted designs (merged,
        informative) cannot be used, so the plain one is (said so in the run's notes)."""
        return self if informativeness or self.design == "plain" else self.model_copy(update={"design": "plain"})

    @property
    def weighted(self) -> bool:
        """The design needs the claims' informativeness classes."""
        return self.design in ("informative", "merged")

    @property
    def composition(self) -> RewardSpec:
        """The composer's part alone (design, λ, μ)."""
        return RewardSpec(self.design, self.lam, self.mu)

    def describe(self) -> dict[str, Any]:
        return {"design": self.design, "lambda": self.lam, "mu": self.mu,
                "relevance_fallback": RELEVANCE_FALLBACK, "floor": FLOOR}

    @property
    def bound(self) -> float:
        """The composer's value for a perfect answer: every claim supported and informative, D at the cap, a win."""
        cap = float(self.detail_cap)
        return compose_reward(self, abstained=False, precision=1.0, supported=cap,
                              weighted_precision=1.0, weighted_supported=cap, relevance=1.0,
                              merged_precision=1.0, merged_detail=cap)

    def value(self, score: Any) -> float:
        """An answer's training reward in [0, 1]: its terms (an AnswerScore) with S and D capped, over `bound`."""
        cap = float(self.detail_cap)
        weighted = score.weighted_supported
        raw = compose_reward(self, abstained=score.abstained, precision=score.precision,
                             supported=min(score.supported, cap), weighted_precision=score.weighted_precision,
                             weighted_supported=None if weighted is None else min(weighted, cap),
                             relevance=score.relevance, merged_precision=score.merged_precision,
                             merged_detail=None if score.merged_detail is None else min(score.merged_detail, cap))
        return raw / self.bound


def compose_reward(spec: RewardSpec, *, abstained: bool, precision: float | None, supported: float,
                   weighted_precision: float | None = None, weighted_supported: float | None = None,
                   relevance: float | None = None, merged_precision: float | None = None,
                   merged_detail: float | None = None) -> float:
    """The reward of one answer. The informative design needs the weighted terms, the merged one
    the merged terms."""
    if abstained or precision is None:
        return FLOOR
    if spec.design == "merged":
        if merged_detail is None:
            raise ValueError("the merged reward needs the merged terms (run with informativeness on)")
        p, d = merged_precision or 0.0, merged_detail
    elif spec.weighted:
        if weighted_supported is None:
            raise ValueError("the informative reward needs claim weights (run with informativeness on)")
        p, d = weighted_precision or 0.0, weighted_supported
    else:
        p, d = precision, supported
    r = relevance if relevance is not None else RELEVANCE_FALLBACK
    return p + spec.lam * math.log1p(d) + spec.mu * r


def reward_of_row(spec: RewardSpec, row: dict[str, Any]) -> float:
    """The reward of a stored per-answer row (scores.jsonl) under another spec."""
    return compose_reward(spec, abstained=row["abstained"], precision=row["precision"],
                          supported=row["supported"], weighted_precision=row.get("weighted_precision"),
                          weighted_supported=row.get("weighted_supported"), relevance=row.get("relevance"),
                          merged_precision=row.get("merged_precision"), merged_detail=row.get("merged_detail"))
