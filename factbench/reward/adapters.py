"""What the trainer adapters share (docs/reward.md): reading prompts and completions in the shapes
trainers pass them, and deciding whether references are worth their judge calls.

The adapters themselves: TRL in :mod:`factbench.reward.trl`, verl in :mod:`factbench.reward.verl`,
OpenRLHF through the service (:mod:`factbench.reward.openrlhf`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from factbench.reward.definition import ScoreResult, TrainingReward

log = logging.getLogger("factbench.reward")
_said_ignored = False


class ScorerLike(Protocol):
    """A Scorer, or a ServiceScorer that asks the reward service."""

    @property
    def spec(self) -> TrainingReward: ...

    async def score(self, prompts: Sequence[str], responses: Sequence[str],
                    references: Sequence[str | None] | None = None) -> list[ScoreResult]: ...

    def score_sync(self, prompts: Sequence[str], responses: Sequence[str],
                   references: Sequence[str | None] | None = None) -> list[ScoreResult]: ...


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


def usable_references(spec: TrainingReward, references: Sequence[Any] | None) -> list[str | None] | None:
    """The references a trainer passed along (a dataset column, verl's ground_truth, OpenRLHF's labels),
    or None when relevance would not change the reward: it costs judge calls only when its weight
    μ is not 0 or the reward was configured with `reward_relevance="references"`. Said once per process."""
    refs = [r if isinstance(r, str) and r else None for r in references] if references is not None else []
    if not any(refs):
        return None
    if spec.mu > 0 or spec.relevance == "references":
        return refs
    global _said_ignored
    if not _said_ignored:
        _said_ignored = True
        log.warning("factbench: the references passed with the rollouts are ignored: relevance has weight mu = %s "
                    "in this reward (set reward_mu > 0 or reward_relevance='references' to use them)", spec.mu)
    return None


def masked_rate(results: Sequence[ScoreResult]) -> float:
    return sum(r.masked for r in results) / len(results) if results else 0.0
