"""The reward in the shapes RL trainers call (docs/reward.md).

- TRL (`GRPOTrainer(reward_funcs=[TRLReward(scorer)])`): `f(prompts, completions, **kwargs)` ->
  a list of floats, None for a masked answer (TRL reads None as NaN and leaves it out of its sum).
- verl (`custom_reward_function`): `compute_score(data_source, solution_str, ground_truth, extra_info)`
  -> {"score": ..., "masked": 0/1, ...}, or the batched form with `data_sources=`, `solution_strs=`,
  `ground_truths=`, `extra_infos=` -> a list of those. verl has no mask: a masked answer gets
  `masked_score` (default 0.0) with `masked: 1.0` beside it, so it can be filtered or logged.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from factbench.reward.definition import ScoreResult
from factbench.reward.scorer import Scorer


def _content(message: Any) -> str:
    content = message.get("content", "") if isinstance(message, dict) else message
    if isinstance(content, list):  # multi-part content: keep the text parts
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content if isinstance(content, str) else ""


def prompt_text(prompt: Any) -> str:
    """A plain prompt, or a conversation: its last user message."""
    if isinstance(prompt, str):
        return prompt
    users = [m for m in prompt if isinstance(m, dict) and m.get("role") == "user"]
    return _content(users[-1]) if users else ""


def completion_text(completion: Any) -> str:
    """A plain completion, or a list of messages: the assistant's text."""
    if isinstance(completion, str):
        return completion
    return "".join(_content(m) for m in completion if not isinstance(m, dict) or m.get("role", "assistant") == "assistant")


class TRLReward:
    """A TRL reward function. `reference_column` names a dataset column holding reference answers."""

    def __init__(self, scorer: Scorer, *, reference_column: str = "reference", name: str = "factbench_reward"):
        self.scorer = scorer
        self.reference_column = reference_column
        self.__name__ = name  # TRL logs each reward function under its name
        self.last_results: list[ScoreResult] = []

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], **kwargs: Any) -> list[float | None]:
        refs = kwargs.get(self.reference_column)
        results = self.scorer.score_sync([prompt_text(p) for p in prompts], [completion_text(c) for c in completions],
                                         list(refs) if refs is not None else None)
        self.last_results = results
        return [r.reward for r in results]


class VerlReward:
    """verl's `compute_score`, single and batched. The question comes from extra_info['prompt'|'question']."""

    def __init__(self, scorer: Scorer, *, masked_score: float = 0.0, prompt_keys: Sequence[str] = ("prompt", "question"),
                 ground_truth_as_reference: bool = True):
        self.scorer = scorer
        self.masked_score = masked_score
        self.prompt_keys = tuple(prompt_keys)
        self.ground_truth_as_reference = ground_truth_as_reference
        self.__name__ = "compute_score"

    def _prompt(self, extra_info: Any) -> str:
        for key in self.prompt_keys:
            value = extra_info.get(key) if isinstance(extra_info, dict) else None
            if value:
                return prompt_text(value)
        raise ValueError(f"factbench needs the question: put it in extra_info under one of {list(self.prompt_keys)}")

    def _reference(self, ground_truth: Any) -> str | None:
        return ground_truth if self.ground_truth_as_reference and isinstance(ground_truth, str) and ground_truth else None

    def _info(self, r: ScoreResult) -> dict[str, float]:
        return {"score": self.masked_score if r.masked else r.reward, "masked": float(r.masked),
                "precision": math.nan if r.precision is None else r.precision,
                "supported": float(r.supported), "n_claims": float(r.n_claims)}

    def __call__(self, data_source: Any = None, solution_str: str | None = None, ground_truth: Any = None,
                 extra_info: dict | None = None, *, data_sources: Sequence[Any] | None = None,
                 solution_strs: Sequence[str] | None = None, ground_truths: Sequence[Any] | None = None,
                 extra_infos: Sequence[dict] | None = None, **kwargs: Any) -> dict[str, float] | list[dict[str, float]]:
        if solution_strs is not None:
            n = len(solution_strs)
            infos = list(extra_infos) if extra_infos is not None else [None] * n
            truths = list(ground_truths) if ground_truths is not None else [None] * n
            refs = [self._reference(t) for t in truths]
            results = self.scorer.score_sync([self._prompt(i) for i in infos], list(solution_strs),
                                             refs if any(refs) else None)
            return [self._info(r) for r in results]
        if solution_str is None:
            raise ValueError("compute_score needs solution_str (or the batched solution_strs=)")
        ref = self._reference(ground_truth)
        result = self.scorer.score_sync([self._prompt(extra_info)], [solution_str], [ref] if ref else None)[0]
        return self._info(result)
