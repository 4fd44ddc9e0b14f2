"""What every pipeline stage is: a name, the record it appends, the role whose model it uses,
and one coroutine that turns a sample's earlier records into its own.

The orchestrator (:mod:`factbench.pipeline.runner`) holds the ordered list of stages and is
the only place that knows the order; a stage reads only the records of the stages before it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

from factbench.evidence.backends import EvidenceBackend
from factbench.judges.judge import Judge
from factbench.llm.client import LLMClient
from factbench.store.records import Record
from factbench.tasks import Prompt, Task


class StageError(Exception):
    """A stage could not produce its record for one sample; `kind` is counted in the summary."""

    def __init__(self, kind: str, detail: str):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


@dataclass
class RunContext:
    """What stages share across a run: the role clients, the judges, and the scoring options."""

    clients: dict[str, LLMClient]
    judges: dict[str, Judge]
    sentences_per_call: int
    claims_per_call: int
    evidence_tokens: int
    relevance: bool = True
    responses: dict[str, dict] | None = None  # sample key -> row, when answers come from a file
    answers_source: str = "generated"
    max_judge_attempts: int = 3  # per sample and judge stage, across resumes, for items that did not parse


@dataclass
class Sample:
    """One prompt of one task on its way through the stages."""

    task: Task
    prompt: Prompt
    evidence: EvidenceBackend
    records: dict[str, Record] = field(default_factory=dict)  # stage name -> its (latest) record


class Stage(ABC):
    name: ClassVar[str]  # the stage file: results/<run>/<name>.jsonl
    role: ClassVar[str | None] = None  # the role whose model the stage calls, if any

    def applies(self, run: RunContext, task: Task) -> bool:
        """Whether the stage runs at all for this task (progress totals count only these)."""
        return True

    def wanted(self, run: RunContext, sample: Sample) -> bool:
        """Whether the stage has anything to do for this sample, given the earlier records."""
        return True

    def done(self, run: RunContext, sample: Sample) -> bool:
        """Whether the sample's record of this stage needs nothing more. A judge stage whose record
        is partial (items the judge's output did not cover) is not done: `run` then gets the
        partial record in `sample.records` and completes exactly the missing items."""
        return self.name in sample.records

    @abstractmethod
    async def run(self, run: RunContext, sample: Sample) -> Record:
        """The stage's record for the sample; raises LLMError or StageError when it cannot."""
