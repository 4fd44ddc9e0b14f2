"""The reward as verl's custom reward function (checked against verl 0.9.1's reward loop).

verl 0.9 loads `custom_reward_function.path`/`.name` and calls it once per sample,
`compute_score(data_source=, solution_str=, ground_truth=, extra_info=, **kwargs)`
(`verl/experimental/reward_loop/reward_manager/naive.py`, also `dapo`, `gdpo`, `rate_limited`);
it awaits the call when `inspect.iscoroutinefunction(fn)` holds, and otherwise blocks one pool thread
per sample. So the entry point here is a module-level coroutine function:

    reward.custom_reward_function.path=pkg://factbench.reward.verl
    reward.custom_reward_function.name=compute_score

configured by environment variables (set them in the Ray runtime environment):

    FACTBENCH_REWARD_CONFIG   a JSON file: Scorer keywords (judge, judge_base_url, evidence, reward_mu, ...)
                              plus "masked_score"; or {"service": URL} to score through a reward service
    FACTBENCH_REWARD_URL      score through `factbench reward serve` at this URL (one judge client per host)
    FACTBENCH_JUDGE, FACTBENCH_JUDGE_BASE_URL   the judge, when there is no config file

The `remote` manager runs the function in Ray actors and accepts only a synchronous one: name
`compute_score_sync` there. Both build their Scorer lazily, once per process, and pickle (they are
module-level functions; a `VerlReward` pickles as its settings, before and after use). Nothing
returned is NaN: a value that does not exist (the precision of an answer without claims) is None,
which verl's validation metrics leave out.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from factbench.pipeline.options import UsageError
from factbench.reward.adapters import ScorerLike, prompt_text, usable_references
from factbench.reward.definition import ScoreResult

CONFIG_ENV, URL_ENV, JUDGE_ENV, JUDGE_URL_ENV = ("FACTBENCH_REWARD_CONFIG", "FACTBENCH_REWARD_URL", "FACTBENCH_JUDGE",
                                                 "FACTBENCH_JUDGE_BASE_URL")


class VerlReward:
    """verl's `compute_score` for one sample (`__call__`, sync) or awaited (`score`).

    Give it a Scorer (or ServiceScorer), or the Scorer's keywords to build one lazily in the process
    that first scores; `service=URL` scores through a reward service. The question comes from
    `extra_info["prompt"]` (or `["question"]`). verl has no mask: a masked answer gets `masked_score`
    with `masked: 1.0` beside it."""

    def __init__(self, scorer: ScorerLike | None = None, *, masked_score: float = 0.0,
                 prompt_keys: Sequence[str] = ("prompt", "question"), service: str | None = None,
                 **scorer_options: Any):
        if scorer is not None and (service or scorer_options):
            raise UsageError("VerlReward takes a scorer, or service=URL, or the Scorer's keywords: one of them")
        self.masked_score = masked_score
        self.prompt_keys = tuple(prompt_keys)
        self._given = scorer
        self._service = service
        self._options = scorer_options
        self._built: ScorerLike | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self.__name__ = "compute_score"

    @property
    def scorer(self) -> ScorerLike:
        """The Scorer, built on first use in this process (a forked or unpickled copy builds its own)."""
        if self._given is not None:
            return self._given
        with self._lock:
            if self._built is None or self._pid != os.getpid():
                if self._service:
                    from factbench.reward.remote import ServiceScorer

                    self._built = ServiceScorer(self._service)
                else:
                    from factbench.reward.scorer import Scorer

                    self._built = Scorer(**self._options)
                self._pid = os.getpid()
            return self._built

    def __getstate__(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in ("_built", "_lock")}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _built=None, _lock=threading.Lock())

    def _prompt(self, extra_info: Any) -> str:
        for key in self.prompt_keys:
            value = extra_info.get(key) if isinstance(extra_info, dict) else None
            if value:
                return prompt_text(value)
        raise ValueError(f"factbench needs the question: put it in extra_info under one of {list(self.prompt_keys)}")

    def _inputs(self, solution_str: Any, ground_truth: Any, extra_info: Any):
        if not isinstance(solution_str, str):
            raise ValueError(f"compute_score needs solution_str as a string, got {type(solution_str).__name__}")
        return [self._prompt(extra_info)], [solution_str], usable_references(self.scorer.spec, [ground_truth])

    def info(self, r: ScoreResult) -> dict[str, float | None]:
        """verl's result dict: `score` plus extra values it logs (the same keys for every sample)."""
        return {"score": self.masked_score if r.masked else r.reward, "masked": float(r.masked),
                "precision": r.precision, "supported": float(r.supported), "n_claims": float(r.n_claims)}

    def __call__(self, data_source: Any = None, solution_str: Any = None, ground_truth: Any = None,
                 extra_info: dict | None = None, **kwargs: Any) -> dict[str, float | None]:
        return self.info(self.scorer.score_sync(*self._inputs(solution_str, ground_truth, extra_info))[0])

    async def score(self, data_source: Any = None, solution_str: Any = None, ground_truth: Any = None,
                    extra_info: dict | None = None, **kwargs: Any) -> dict[str, float | None]:
        return self.info((await self.scorer.score(*self._inputs(solution_str, ground_truth, extra_info)))[0])


def from_environment() -> VerlReward:
    """The VerlReward that FACTBENCH_REWARD_CONFIG / FACTBENCH_REWARD_URL / FACTBENCH_JUDGE describe."""
    path = os.environ.get(CONFIG_ENV)
    if path:
        try:
            options = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"${CONFIG_ENV}: cannot read {path}: {exc}") from None
        if not isinstance(options, dict):
            raise UsageError(f"${CONFIG_ENV}: {path} must hold a JSON object of Scorer keywords")
        return VerlReward(**options)
    if os.environ.get(URL_ENV):
        return VerlReward(service=os.environ[URL_ENV])
    if os.environ.get(JUDGE_ENV):
        return VerlReward(judge=os.environ[JUDGE_ENV], judge_base_url=os.environ.get(JUDGE_URL_ENV))
    raise UsageError(f"factbench.reward.verl: set ${CONFIG_ENV} (a JSON file of Scorer keywords), ${URL_ENV} "
                     f"(a reward service) or ${JUDGE_ENV} (with ${JUDGE_URL_ENV}) in the workers' environment")


_default: VerlReward | None = None
_default_lock = threading.Lock()


def _reward() -> VerlReward:
    global _default
    with _default_lock:
        if _default is None:
            _default = from_environment()
        return _default


async def compute_score(data_source: Any, solution_str: Any, ground_truth: Any, extra_info: dict | None = None,
                        **kwargs: Any) -> dict[str, float | None]:
    """verl's per-sample reward, awaited by its reward loop (naive, dapo, gdpo, rate_limited managers)."""
    return await _reward().score(data_source, solution_str, ground_truth, extra_info, **kwargs)


def compute_score_sync(data_source: Any, solution_str: Any, ground_truth: Any, extra_info: dict | None = None,
                       **kwargs: Any) -> dict[str, float | None]:
    """The same, blocking: for verl's `remote` manager, which runs only synchronous functions in its actors."""
    return _reward()(data_source, solution_str, ground_truth, extra_info, **kwargs)
