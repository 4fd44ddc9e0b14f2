"""What every pipeline stage is, declared on the stage itself: its name (the stage file), the
record it appends, the stages whose records it reads, the judge roles it calls, its place in the
order, what it adds to the run identity, and how its judge's unparsed items are counted.

Stages register under the `factbench.stages` entry-point group (:mod:`factbench.stages.registry`);
the record-type table, the role list, the per-role flags and keywords, the pre-flight roles, the
price table and the error summary are all derived from the registered stages. The one
:class:`factbench.pipeline.pipeline.Pipeline` runs them in order.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from factbench.evidence.backends import EvidenceBackend
from factbench.judges.judge import Judge
from factbench.llm.client import LLMClient
from factbench.llm.memo import VerdictMemo
from factbench.store.records import Record
from factbench.tasks import Prompt, Task

R = TypeVar("R", bound=Record)


class StageError(Exception):
    """A stage could not produce its record for one sample; `kind` is counted in the summary."""

    def __init__(self, kind: str, detail: str):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


@dataclass(frozen=True)
class Role:
    """A model a stage calls that writes text rather than judging it (the model under test, the
    reference model). Users name it with the same five flags and keywords as a judge role
    (`--FLAG`, `--FLAG-base-url`, `--FLAG-api-key-env`, `--FLAG-concurrency`, `--FLAG-revision`),
    but it differs where a judge role has more: it runs no judge (no template, no parser), it does
    not fall back to `--judge`, and its decoding parameters are its own (pipeline/options.py)."""

    name: str
    flag: str
    help: str
    # Flags it had before a rename: still accepted (hidden, with a warning), as are their keywords.
    former_flags: tuple[str, ...] = field(default=(), kw_only=True)

    @property
    def field(self) -> str:
        """The option/keyword prefix: the flag with underscores."""
        return self.flag.replace("-", "_")


@dataclass(frozen=True)
class JudgeRole(Role):
    """A judge role a stage calls: its key (`role` of judges and RoleSpecs), the flag and keyword
    prefix users name its model with (`--FLAG`, `--FLAG-base-url`, ... / `FLAG_base_url=`), and the
    judge it runs unless `--judges` names another. Its model defaults to `--judge`'s."""

    default_judge: str


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
    # Reference answers being generated, by prompt text: rollouts of one prompt share one call.
    references: dict[str, asyncio.Future] = field(default_factory=dict)
    options: dict[str, BaseModel] = field(default_factory=dict)  # stage name -> its options (Stage.options)
    # Claim judgements shared by the samples (single flight) and kept across runs (llm/memo.py); None: off.
    memo: VerdictMemo | None = None


@dataclass
class Sample:
    """One prompt of one task on its way through the stages."""

    task: Task
    prompt: Prompt
    evidence: EvidenceBackend
    records: dict[str, Record] = field(default_factory=dict)  # stage name -> its (latest) record

    def get(self, stage: type[Stage[R]]) -> R | None:
        """The sample's record of `stage`, typed; None while it has none."""
        record = self.records.get(stage.name)
        return record  # type: ignore[return-value]

    def need(self, stage: type[Stage[R]]) -> R:
        """The record of an earlier stage this one cannot do without."""
        record = self.get(stage)
        if record is None:
            raise StageError("missing_input", f"no {stage.name} record for this sample")
        return record


class Stage(ABC, Generic[R]):
    """One step of the pipeline. Subclasses set the class attributes and `run`."""

    name: ClassVar[str]  # the stage file: results/<run>/<name>.jsonl
    record_type: ClassVar[type[Record]]
    order: ClassVar[int]  # place in the pipeline (built-ins: 10, 20, ..., 60); a stage reads only earlier ones
    reads: ClassVar[tuple[type[Stage], ...]] = ()  # the stages whose records it reads
    roles: ClassVar[tuple[JudgeRole, ...]] = ()  # the judge roles it calls
    models: ClassVar[tuple[Role, ...]] = ()  # the roles it calls that write text (no judge)
    # Its settings, with their defaults; each field is a flag (`--FIELD-NAME`) and a keyword of run,
    # evaluate() and the Scorer, and part of the run identity. `produce` reads them as ctx.options[name].
    options: ClassVar[type[BaseModel] | None] = None
    role: ClassVar[str | None] = None  # the role whose calls its progress bar shows
    former_names: ClassVar[tuple[str, ...]] = ()  # its file's names in run directories from before a rename

    def applies(self, ctx: RunContext, task: Task) -> bool:
        """Whether the stage runs at all for this task (progress totals count only these)."""
        return all(r.name in ctx.clients and r.name in ctx.judges for r in self.roles)

    def wanted(self, ctx: RunContext, sample: Sample) -> bool:
        """Whether the stage has anything to do for this sample, given the earlier records."""
        return self.applies(ctx, sample.task)

    def done(self, ctx: RunContext, sample: Sample) -> bool:
        """Whether the sample's record of this stage needs nothing more. A judge stage whose record
        is partial (items the judge's output did not cover) is not done: `produce` then gets the
        partial record in `sample.records` and completes exactly the missing items."""
        return self.name in sample.records

    def templates(self, judges: dict[str, Judge], uses_evidence: bool) -> dict[str, str]:
        """Its contribution to the identity: template name -> template id, for a task whose evidence
        backend does (not) give passages."""
        out = {}
        for role in self.roles:
            if role.name in judges:
                judge = judges[role.name]
                out[judge.template_for(uses_evidence).name] = judge.id_for(uses_evidence)
        return out

    def unparsed(self, record: Record, sample_records: dict[str, Record]) -> tuple[int, int, Counter[str]]:
        """Judge health of one record: items asked about, items still without a parsed answer, and
        the error kinds; (0, 0, {}) for a stage without a judge."""
        return 0, 0, Counter()

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "order": self.order, "record": self.record_type.__name__,
                "reads": [s.name for s in self.reads], "roles": [r.name for r in self.roles],
                "models": [r.name for r in self.models],
                "options": self.options().model_dump() if self.options else {}}

    @abstractmethod
    async def produce(self, ctx: RunContext, sample: Sample) -> R:
        """The stage's record for the sample; raises LLMError or StageError when it cannot."""
