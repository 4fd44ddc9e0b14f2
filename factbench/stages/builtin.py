"""The built-in stages, registered under the `factbench.stages` entry-point group."""

from __future__ import annotations

from factbench.stages.claims import ClaimsStage
from factbench.stages.evidence import EvidenceStage
from factbench.stages.generate import AnswerStage
from factbench.stages.informativeness import InformativenessStage
from factbench.stages.relevance import RelevanceStage
from factbench.stages.verify import VerdictsStage

STAGES = (AnswerStage(), ClaimsStage(), EvidenceStage(), VerdictsStage(), InformativenessStage(), RelevanceStage())
