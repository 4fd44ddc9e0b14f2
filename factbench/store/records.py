"""Typed per-stage records. Each is one JSON line in its stage's file in the run directory.

Every record carries `task` and `id` (the prompt id); (task, id) is the sample key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field


class Record(BaseModel):
    task: str
    id: str
    # Calls made to produce this record, per role: {"calls", "cache_hits", "prompt_tokens",
    # "completion_tokens", "cost_usd"} (fresh calls only; cache hits cost nothing).
    usage: dict[str, dict[str, Any]] = Field(default_factory=dict)

    @property
    def key(self) -> str:
        return sample_key(self.task, self.id)


def sample_key(task: str, sample_id: str) -> str:
    return f"{task}\x1f{sample_id}"


class AnswerRecord(Record):
    prompt_sha: str
    prompt: str | None = None  # omitted for tasks whose license forbids redistribution
    answer: str
    reasoning: str | None = None
    source: str  # "generated" or "responses:<file sha>"
    finish_reason: str | None = None
    cached: bool = False


class Claim(BaseModel):
    text: str
    sentence: int  # index of the source sentence in ClaimsRecord.sentences
    occurrences: int = 1  # how many (near-)identical claims were merged into this one


class ClaimsRecord(Record):
    abstained: bool
    sentences: list[str]
    claims: list[Claim]
    merged_duplicates: int = 0
    # Claims the answer does not support (factbench/stages/grounding.py): dropped before evidence.
    ungrounded: list[Claim] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    extractor: str  # judge template id
    raw: list[str] = Field(default_factory=list)  # raw judge outputs, so parsing can be re-applied
    # Sentences (indices into `sentences`) whose claims the judge's output did not give: the
    # next resume asks for exactly these and appends a record that supersedes this one.
    missing_sentences: list[int] = Field(default_factory=list)
    attempt: int = 1  # how many judge attempts produced this record (bounded across resumes)


class Passage(BaseModel):
    text: str
    title: str = ""
    source: str = ""  # URL, corpus name, ...
    score: float | None = None


class EvidenceRecord(Record):
    backend: str
    passages: list[Passage]  # unique passages retrieved for this answer
    per_claim: list[list[int]]  # per claim (aligned with ClaimsRecord.claims): indices into `passages`, best first
    errors: list[str] = Field(default_factory=list)


class VerdictsRecord(Record):
    labels: list[str | None]  # per claim; None = no verdict (see errors)
    errors: list[str | None]
    verifier: str  # judge template id
    evidence_backend: str
    raw: list[str] = Field(default_factory=list)
    attempt: int = 1  # a None label is asked again on resume until this reaches the bound


class InformativenessRecord(Record):
    """Informativeness class per claim (aligned with ClaimsRecord.claims); None = no class (see errors)."""

    classes: list[str | None]
    same_as: list[int | None]  # for "restates": the index of the claim it restates, when the judge named one
    errors: list[str | None]
    judge: str  # template id
    raw: list[str] = Field(default_factory=list)
    attempt: int = 1  # a claim without a class is asked again on resume until this reaches the bound


class RelevanceRecord(Record):
    reference_source: str
    winners: list[str | None]  # per order: [answer-first, reference-first], from the answer's point of view
    score: float | None
    errors: list[str] = Field(default_factory=list)
    judge: str
    attempt: int = 1  # an order without a parsed winner is asked again on resume until the bound


class ErrorRecord(Record):
    """A stage that failed for a sample; `resolved: true` marks a later attempt that fixed it
    (errors.jsonl stays append-only: a resolution is a new line, never an edit)."""

    stage: str
    kind: str
    detail: str
    resolved: bool = False


@dataclass(frozen=True)
class StageFiles:
    """A run directory's record files, in pipeline order: each one's record type and the files its
    records are built on. The store keeps no table of its own: a run derives this from its
    registered stages (`factbench.stages.registry.stage_files`), so a plug-in stage's file is
    typed, synced and repaired like a built-in's. Without one a store knows only errors.jsonl."""

    types: Mapping[str, type[Record]] = field(default_factory=lambda: {"errors": ErrorRecord})
    built_on: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # Names a stage's file had before it was renamed: a run directory that has one keeps using it.
    former: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
