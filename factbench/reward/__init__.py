"""The training reward: definition, a reusable Scorer, and adapters for RL trainers (docs/reward.md)."""

from factbench.reward.definition import REWARD_VERSION, LabelledClaim, ScoreResult, TrainingReward
from factbench.reward.remote import ServiceScorer
from factbench.reward.scorer import Scorer
from factbench.reward.trl import AsyncTRLReward, TRLReward
from factbench.reward.verl import VerlReward

__all__ = ["REWARD_VERSION", "AsyncTRLReward", "LabelledClaim", "ScoreResult", "Scorer", "ServiceScorer", "TRLReward",
           "TrainingReward", "VerlReward"]
