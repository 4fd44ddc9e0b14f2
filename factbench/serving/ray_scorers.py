"""`factbench.Scorer` as a pool of Ray actors (extra `factbench[ray]`), for trainers that already
run on Ray (verl, OpenRLHF): each actor holds one long-lived Scorer (its own judge pool and call
cache connection), and a batch is split over the actors in contiguous pieces.

    pool = RayScorerPool(4, judge="openai/judge", judge_base_url="http://gpu1:8000/v1", judge_budget=256)
    rewards = [r.reward for r in pool.score(prompts, responses)]

`judge_budget` is the number of judge requests in flight per judge role and server over the whole
pool; each actor gets an equal share as its `judge_concurrency`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from factbench.evalset.ray_executor import import_ray


class _ScorerActor:
    """One Scorer inside a Ray actor process."""

    def __init__(self, kwargs: dict[str, Any]):
        from factbench.reward.scorer import Scorer

        self.scorer = Scorer(**kwargs)

    def score(self, prompts: list[str], responses: list[str], references: list[str | None] | None) -> list[Any]:
        return self.scorer.score_sync(prompts, responses, references)

    def close(self) -> None:
        self.scorer.close()


def split(n_items: int, n_parts: int) -> list[range]:
    """Contiguous, balanced pieces (to one item) of range(n_items); empty pieces left out."""
    size, extra = divmod(n_items, n_parts)
    out, start = [], 0
    for i in range(n_parts):
        end = start + size + (1 if i < extra else 0)
        if end > start:
            out.append(range(start, end))
        start = end
    return out


class RayScorerPool:
    def __init__(self, actors: int, *, judge_budget: int | None = None, num_cpus: float = 1.0,
                 address: str | None = None, **scorer_kwargs: Any):
        self.ray = import_ray()
        if not self.ray.is_initialized():
            self.ray.init(address=address, log_to_driver=False, include_dashboard=False)
        if judge_budget is not None:
            scorer_kwargs["judge_concurrency"] = max(1, judge_budget // max(1, actors))
        remote = self.ray.remote(num_cpus=num_cpus, max_restarts=2, max_task_retries=2)(_ScorerActor)
        self.actors = [remote.remote(scorer_kwargs) for _ in range(max(1, actors))]

    def score(self, prompts: Sequence[str], responses: Sequence[str],
              references: Sequence[str | None] | None = None) -> list[Any]:
        """One ScoreResult per response, in order, as `Scorer.score_sync` gives them."""
        if len(prompts) != len(responses) or (references is not None and len(references) != len(prompts)):
            raise ValueError("prompts, responses (and references) must have the same length")
        pieces = split(len(prompts), len(self.actors))
        refs = [actor.score.remote([prompts[i] for i in piece], [responses[i] for i in piece],
                                   None if references is None else [references[i] for i in piece])
                for actor, piece in zip(self.actors, pieces)]
        return [result for part in self.ray.get(refs) for result in part]

    def close(self) -> None:
        self.ray.get([actor.close.remote() for actor in self.actors])
        for actor in self.actors:
            self.ray.kill(actor)
        self.actors = []

    def __enter__(self) -> RayScorerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
