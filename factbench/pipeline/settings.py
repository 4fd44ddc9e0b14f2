"""Run settings: what the user asked for besides the roles (frozen, serialised into run.json)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from factbench.stages.claims import DEFAULT_SENTENCES_PER_CALL
from factbench.stages.verify import DEFAULT_CLAIMS_PER_CALL, DEFAULT_EVIDENCE_TOKENS


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
    reward_lambda: float = 0.1
    reward_mu: float = 1.0
    responses: str | None = None
    max_parallel_samples: int = 0  # 0: derived from the judges' concurrency
    fail_on_error: float = 0.05
    progress: bool = True
    cache_path: str | None = None
    data_dir: str | None = None
    select_from_run: str | None = None  # re-scoring: take exactly that run's prompt selection
    label: str = ""  # shown on the leaderboard, e.g. "demo-quality judge"
    shard: str | None = None  # "I/N": this run scores every N-th planned prompt (factbench merge joins them)

    @property
    def run_dir(self) -> Path:
        return Path(self.results_dir) / self.run_id
