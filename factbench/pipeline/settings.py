"""Run settings: what the user asked for besides the roles (frozen, serialised into run.json)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from factbench.judges.builtin import VERIFY_BINARY
from factbench.llm.client import ROLE_DEFAULTS, RoleDefaults
from factbench.scoring.reward import DEFAULT_DESIGN, DEFAULT_LAMBDA, DEFAULT_MU, RewardSpec
from factbench.stages.base import Stage
from factbench.stages.claims import DEFAULT_SENTENCES_PER_CALL
from factbench.stages.registry import judge_roles
from factbench.stages.verify import DEFAULT_CLAIMS_PER_CALL, DEFAULT_EVIDENCE_TOKENS

__all__ = ["ROLE_DEFAULTS", "RoleDefaults", "RunSettings"]  # the role defaults live with RoleSpec


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
    informativeness: bool = Field(default=True, validation_alias=AliasChoices("informativeness", "weighting"))  # the informativeness judge weighs every claim
    reward_design: str = DEFAULT_DESIGN
    reward_lambda: float = DEFAULT_LAMBDA
    reward_mu: float = DEFAULT_MU
    responses: str | None = None
    max_parallel_samples: int = 0  # 0: derived from the judges' concurrency
    fail_on_error: float = 0.05
    max_judge_attempts: int = 3  # per sample and judge stage, across resumes, for unparsed items
    max_cost: float | None = None  # dollars over all invocations of the run; no new stage starts past it
    probe_served_models: bool = True  # ask each endpoint once which model it serves (identity)
    progress: bool | str = True  # or a display mode: auto, live, plain, none (pipeline/progress.py)
    cache_path: str | None = None
    memo: bool = True  # the verdict memo beside the cache (llm/memo.py): provenance, not identity
    data_dir: str | None = None
    select_from_run: str | None = None  # re-scoring: take exactly that run's prompt selection
    label: str = ""  # shown on the leaderboard, e.g. "demo-quality judge"
    shard: str | None = None  # "I/N": this run scores every N-th planned prompt (factbench merge joins them)
    step: int | None = None  # checkpoint step: the leaderboard's trend view
    judges: tuple[str, ...] = ()  # judge names replacing the default judge of their role
    # The options given for stages whose options are not fields above (plug-in stages): stage -> {option: value}.
    stage_options: dict[str, dict[str, Any]] = {}

    def default_judges(self) -> dict[str, str]:
        """The judge per role (each registered stage's roles) before `judges` applies;
        `verify_mode` picks the verifier's label set, `informativeness` off drops its role."""
        defaults = {role.name: role.default_judge for role in judge_roles()}
        if self.verify_mode == "binary":
            defaults["verifier"] = VERIFY_BINARY.name
        if not self.informativeness:
            defaults.pop("informativeness", None)
        return defaults

    def stage_options_of(self, stages: tuple[Stage, ...]) -> dict[str, BaseModel]:
        """Each stage's options (RunContext.options): its fields read from the settings of the same
        name (the built-ins'), else from `stage_options`, else the stage's defaults."""
        out: dict[str, BaseModel] = {}
        for stage in stages:
            if stage.options is not None:
                given = {k: getattr(self, k) for k in stage.options.model_fields if k in type(self).model_fields}
                out[stage.name] = stage.options(**{**given, **self.stage_options.get(stage.name, {})})
        return out

    def failures_exceed_limit(self, failed: int, failed_rate: float) -> bool:
        """`fail_on_error` is a proportion of samples when < 1, else a count."""
        limit = self.fail_on_error
        return failed > limit if limit >= 1 else failed_rate > limit

    @property
    def reward(self) -> RewardSpec:
        """The reward actually composed: without claim weights the informative design cannot be used."""
        return RewardSpec(self.reward_design, self.reward_lambda, self.reward_mu).with_informativeness(self.informativeness)

    @property
    def run_dir(self) -> Path:
        return Path(self.results_dir) / self.run_id
