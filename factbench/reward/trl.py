"""The reward as TRL reward functions (checked against trl 1.16: `GRPOTrainer._calculate_rewards`).

TRL calls `f(prompts=, completions=, completion_ids=, **columns, trainer_state=, log_extra=,
log_metric=)` and expects one float per completion, None where the function has no value (TRL
turns it into NaN and leaves it out of its sum). An async function (`AsyncTRLReward`) is gathered
on TRL's own event loop beside the other async reward functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from factbench.reward.adapters import ScorerLike, completion_text, masked_rate, prompt_text, usable_references
from factbench.reward.definition import ScoreResult

METRICS = ("precision", "supported", "masked_rate", "judge_errors")


class _TRLRewardBase:
    """What the sync and async TRL reward functions share. `reference_column` names a dataset column
    of reference answers, used only when relevance counts in the reward (docs/reward.md)."""

    def __init__(self, scorer: ScorerLike, *, reference_column: str = "reference", name: str = "factbench_reward"):
        self.scorer = scorer
        self.reference_column = reference_column
        self.__name__ = name  # TRL logs each reward function under its name
        self.last_results: list[ScoreResult] = []

    def _inputs(self, prompts: Sequence[Any], completions: Sequence[Any], kwargs: dict[str, Any]):
        refs = usable_references(self.scorer.spec, kwargs.get(self.reference_column))
        return [prompt_text(p) for p in prompts], [completion_text(c) for c in completions], refs

    def _report(self, results: list[ScoreResult], kwargs: dict[str, Any]) -> list[float | None]:
        self.last_results = results
        log_metrics(results, kwargs.get("log_metric"), kwargs.get("log_extra"), self.__name__)
        return [r.reward for r in results]

class TRLReward(_TRLRewardBase):
    """A synchronous TRL reward function."""

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        return self._report(self.scorer.score_sync(*self._inputs(prompts, completions, kwargs)), kwargs)


class AsyncTRLReward(_TRLRewardBase):
    """The same as an async function: TRL awaits it on its loop, together with its other async rewards."""

    async def __call__(self, prompts: Sequence[Any], completions: Sequence[Any],
                       **kwargs: Any) -> list[float | None]:
        return self._report(await self.scorer.score(*self._inputs(prompts, completions, kwargs)), kwargs)


def batch_metrics(results: Sequence[ScoreResult]) -> dict[str, float]:
    """Per-batch numbers to watch for reward hacking: mean precision and supported claims of the scored
    answers, the masked rate, and the judge errors (failure kinds over the masked answers)."""
    scored = [r for r in results if not r.masked]
    precisions = [r.precision for r in scored if r.precision is not None]
    out = {"masked_rate": masked_rate(results), "judge_errors": float(sum(len(r.errors) for r in results if r.masked))}
    if precisions:
        out["precision"] = sum(precisions) / len(precisions)
    if scored:
        out["supported"] = sum(r.supported for r in scored) / len(scored)
    return out


def log_metrics(results: Sequence[ScoreResult], log_metric: Callable[[str, float], Any] | None,
                log_extra: Callable[[str, list], Any] | None, name: str) -> None:
    """Send the batch's numbers through TRL's `log_metric` and per-completion columns through `log_extra`."""
    if log_metric is not None:
        for key, value in batch_metrics(results).items():  # a key without a value this batch is left out
            log_metric(f"{name}/{key}", value)
    if log_extra is not None:
        log_extra(f"{name}/status", [r.status for r in results])
        log_extra(f"{name}/precision", [r.precision for r in results])
