"""Run settings: what the user asked for besides the roles (frozen, serialised into run.json)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from factbench.scoring.reward import DEFAULT_DESIGN, DEFAULT_LAMBDA, DEFAULT_MU, RewardSpec
from factbench.stages.claims import DEFAULT_SENTENCES_PER_CALL
from factbench.stages.verify import DEFAULT_CLAIMS_PER_CALL, DEFAULT_EVIDENCE_TOKENS
from factbench.stages.weights import DEFAULT_CLAIMS_PER_WEIGHT_CALL


class RunSettings(BaseModel):
    """What the user asked for, besides the roles. Frozen and serialised into run.json."""

    model_config = ConfigDict(frozen=True)

    run_id: str
    results_dir: str = "results"
    limit: int | None = None
    seed: int = 0
    evidence: str = "auto"
    verify_mode: str = "ternary"
    sentences_per_call: int = DEFAULT_SENTENCES_PER_CALL
    claims_per_call: int = DEFAULT_CLAIMS_PER_CALL
    evidence_tokens: int = DEFAULT_EVIDENCE_TOKENS
    relevance: bool = True
    weighting: bool = True  # the informativeness judge weighs every claim
    claims_per_weight_call: int = DEFAULT_CLAIMS_PER_WEIGHT_CALL
    reward_design: str = DEFAULT_DESIGN
    reward_lambda: float = DEFAULT_LAMBDA
    reward_mu: float = DEFAULT_MU
    responses: str | None = None
    max_parallel_samples: int = 0  # 0: derived from the judges' concurrency
    fail_on_error: float = 0.05
    progress: bool = True
    cache_path: str | None = None
    data_dir: str | None = None
    select_from_run: str | None = None  # re-scoring: take exactly that run's prompt selection
    label: str = ""  # shown on the leaderboard, e.g. "demo-quality judge"

    @property
    def reward(self) -> RewardSpec:
        """The reward actually composed: without claim weights the informative design cannot be used."""
        design = self.reward_design if self.weighting else "plain"
        return RewardSpec(design, self.reward_lambda, self.reward_mu)

    @property
    def run_dir(self) -> Path:
        return Path(self.results_dir) / self.run_id
