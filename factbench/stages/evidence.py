"""Stage 3: evidence for each claim from the task's backend, with passages shared across claims."""

from __future__ import annotations

from factbench.evidence.backends import EvidenceBackend
from factbench.stages.base import RunContext, Sample, Stage
from factbench.stages.claims import ClaimsStage
from factbench.store.records import EvidenceRecord, Passage
from factbench.tasks import Prompt


async def retrieve_evidence(backend: EvidenceBackend, task: str, prompt: Prompt, claims: list[str],
                            previous: EvidenceRecord | None = None) -> EvidenceRecord:
    """Passages per claim. With `previous` (evidence for the first claims only, before the claims
    were completed), only the claims after those are looked up; the passages are shared."""
    done = len(previous.per_claim) if previous is not None else 0
    per_claim_passages, errors = await backend.retrieve(claims[done:], prompt, task)
    unique: list[Passage] = list(previous.passages) if previous is not None else []
    index: dict[tuple[str, str], int] = {(p.title, p.text): i for i, p in enumerate(unique)}
    per_claim: list[list[int]] = [list(ids) for ids in previous.per_claim] if previous is not None else []
    for passages in per_claim_passages:
        ids = []
        for p in passages:
            pk = (p.title, p.text)
            if pk not in index:
                index[pk] = len(unique)
                unique.append(p)
            ids.append(index[pk])
        per_claim.append(ids)
    return EvidenceRecord(task=task, id=prompt.id, backend=backend.name, passages=unique, per_claim=per_claim,
                          errors=(list(previous.errors) if previous is not None else []) + errors)


class EvidenceStage(Stage[EvidenceRecord]):
    name = "evidence"
    record_type = EvidenceRecord
    order = 30
    reads = (ClaimsStage,)

    def done(self, ctx: RunContext, sample: Sample) -> bool:
        """Evidence covers every claim (claims completed on a resume need theirs)."""
        record, claims = sample.get(EvidenceStage), sample.get(ClaimsStage)
        return record is not None and (claims is None or len(record.per_claim) >= len(claims.claims))

    async def produce(self, ctx: RunContext, sample: Sample) -> EvidenceRecord:
        claims = sample.need(ClaimsStage)
        return await retrieve_evidence(sample.evidence, sample.task.name, sample.prompt, [c.text for c in claims.claims],
                                       previous=sample.get(EvidenceStage))
