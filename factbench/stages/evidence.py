"""Stage 3: evidence for each claim from the task's backend, with passages shared across claims."""

from __future__ import annotations

from factbench.evidence.backends import EvidenceBackend
from factbench.stages.base import RunContext, Sample, Stage
from factbench.store.records import EvidenceRecord, Passage
from factbench.tasks import Prompt


async def retrieve_evidence(backend: EvidenceBackend, task: str, prompt: Prompt, claims: list[str]) -> EvidenceRecord:
    per_claim_passages, errors = await backend.retrieve(claims, prompt, task)
    unique: list[Passage] = []
    index: dict[tuple[str, str], int] = {}
    per_claim: list[list[int]] = []
    for passages in per_claim_passages:
        ids = []
        for p in passages:
            pk = (p.title, p.text)
            if pk not in index:
                index[pk] = len(unique)
                unique.append(p)
            ids.append(index[pk])
        per_claim.append(ids)
    return EvidenceRecord(task=task, id=prompt.id, backend=backend.name, passages=unique,
                          per_claim=per_claim, errors=errors)


class EvidenceStage(Stage):
    name = "evidence"

    async def run(self, run: RunContext, sample: Sample) -> EvidenceRecord:
        claims = sample.records["claims"]
        return await retrieve_evidence(sample.evidence, sample.task.name, sample.prompt, [c.text for c in claims.claims])
