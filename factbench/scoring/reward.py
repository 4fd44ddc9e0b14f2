"""The one place the reward is composed from an answer's terms.

    reward = P + lambda * log(1 + D) + mu * r

- design "informative" (default): P and D are the weighted precision and weighted detail
  (:mod:`factbench.scoring.weighting`); trivial facts, restatements and off-topic padding
  cannot raise them, and off-topic claims lower P.
- design "plain": P is precision and D the number of supported claims (the reward before
  weighting; `factbench hacks` shows how it is hacked).
- design "merged": P and D on the merged content of the weighted claims
  (:mod:`factbench.scoring.facts`), so cutting the same facts into more claims or sentences
  changes neither.
- r is the pairwise relevance against a reference where it was measured; elsewhere it is
  RELEVANCE_FALLBACK (0.5, a tie), so rewards of tasks with and without references are on
  one scale. The default mu is 0: the per-claim off-topic check already carries relevance.
- An answer with nothing to credit (an abstention, or no labelled claim) gets FLOOR.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

DESIGNS = ("informative", "plain", "merged")
DEFAULT_DESIGN = "informative"
DEFAULT_LAMBDA = 0.1
DEFAULT_MU = 0.0
RELEVANCE_FALLBACK = 0.5
FLOOR = 0.0


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


@dataclass(frozen=True)
class RewardSpec:
    design: str = DEFAULT_DESIGN
    lam: float = DEFAULT_LAMBDA
    mu: float = DEFAULT_MU

    def __post_init__(self) -> None:
        if self.design not in DESIGNS:
            raise ValueError(f"unknown reward design {self.design!r} (one of {', '.join(DESIGNS)})")

    @property
    def weighted(self) -> bool:
        """The design needs the claims' informativeness classes."""
        return self.design in ("informative", "merged")

    def describe(self) -> dict[str, Any]:
        return {"design": self.design, "lambda": self.lam, "mu": self.mu,
                "relevance_fallback": RELEVANCE_FALLBACK, "floor": FLOOR}


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
            raise ValueError("the merged reward needs the merged terms (run with weighting on)")
        p, d = merged_precision or 0.0, merged_detail
    elif spec.weighted:
        if weighted_supported is None:
            raise ValueError("the informative reward needs claim weights (run with weighting on)")
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
