"""The training reward: definition, a reusable Scorer, and adapters for RL trainers (docs/reward.md)."""

from factbench.reward.adapters import TRLReward, VerlReward
from factbench.reward.definition import REWARD_VERSION, LabelledClaim, ScoreResult, TrainingReward
from factbench.reward.scorer import Scorer

__all__ = ["REWARD_VERSION", "LabelledClaim", "ScoreResult", "Scorer", "TRLReward", "TrainingReward", "VerlReward"]
