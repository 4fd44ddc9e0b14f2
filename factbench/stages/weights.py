"""Stage 4b: claim weights — the informativeness judge classifies every claim of an answer.

The claims are classified in the same calls that verify them (:func:`verification_calls`), with
the same prompt up to the claims (instructions, question, claims), so on a prefix-caching server
a classification call prefills only its last lines; it runs after the verdicts, when that prefix
is cached, and carries no evidence. Each call also sees up to CONTEXT_CLAIMS claims before its own, so restatements of earlier
claims are found across calls. A claim whose class is missing or unknown gets no class and a
counted error kind; it is left out of the weighted terms.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from factbench.judges.informativeness import INFORMATIVENESS_JUDGE, informativeness_messages
from factbench.judges.judge import Judge
from factbench.llm.client import LLMClient
from factbench.stages.base import JudgeRole, RunContext, Sample, Stage
from factbench.stages.claims import ClaimsStage
from factbench.stages.evidence import EvidenceStage
from factbench.stages.verify import DEFAULT_CLAIMS_PER_CALL, DEFAULT_EVIDENCE_TOKENS, verification_calls
from factbench.store.records import ClaimsRecord, EvidenceRecord, Record, WeightsRecord

CONTEXT_CLAIMS = 60


async def weigh_claims(client: LLMClient, question: str, claims: ClaimsRecord, evidence: EvidenceRecord | None,
                       *, uses_evidence: bool = True, claims_per_call: int = DEFAULT_CLAIMS_PER_CALL,
                       evidence_tokens: int = DEFAULT_EVIDENCE_TOKENS,
                       judge: Judge = INFORMATIVENESS_JUDGE) -> WeightsRecord:
    template = judge.template_for(uses_evidence)
    texts = [c.text for c in claims.claims]
    build = judge.messages or informativeness_messages

    async def one(batch: list[int]):
        numbered = [(i + 1, texts[i]) for i in batch]
        earlier = [(i + 1, texts[i]) for i in range(max(0, batch[0] - CONTEXT_CLAIMS), batch[0])]
        ids = [n for n, _ in numbered]
        completion = await client.complete(build(template, question, numbered, earlier),
                                           template=template.id, schema=template.schema, schema_name="informativeness",
                                           accept=lambda c: not any(judge.parse(c.text, ids)[2]))  # never cache garbage
        classes, same_as, errors = judge.parse(completion.text, ids)
        if completion.finish_reason == "length":
            errors = [("truncated_output" if e else e) for e in errors]
        return completion.text, classes, same_as, errors

    record = WeightsRecord(task=claims.task, id=claims.id, classes=[], same_as=[], errors=[],
                           judge=template.id)
    calls = verification_calls(list(range(len(texts))), evidence, uses_evidence, claims_per_call, evidence_tokens,
                               with_passages=False)
    for text, classes, same_as, errors in await asyncio.gather(*(one(call.claims) for call in calls)):
        record.raw.append(text)
        record.classes.extend(classes)
        record.same_as.extend(None if ref is None else ref - 1 for ref in same_as)  # claim numbers -> indices
        record.errors.extend(errors)
    return record


WEIGHTING = JudgeRole("weighting", "weighting-judge", "override the judge for the weighting role",
                      INFORMATIVENESS_JUDGE.name)


class WeightsStage(Stage[WeightsRecord]):
    """Runs where the run has a weighting judge (weighting on); the weights of an abstention are empty.
    It comes right after the verdicts: its calls then find their shared prefix cached."""

    name = "weights"
    record_type = WeightsRecord
    order = 50
    reads = (ClaimsStage, EvidenceStage)
    roles = (WEIGHTING,)
    role = "weighting"

    def wanted(self, ctx: RunContext, sample: Sample) -> bool:
        return self.applies(ctx, sample.task) and sample.get(ClaimsStage) is not None

    def done(self, run: RunContext, sample: Sample) -> bool:
        """Weights cover every claim (claims completed on a resume need theirs: the weights are
        asked again, the unchanged calls from the call cache)."""
        record, claims = sample.get(WeightsStage), sample.get(ClaimsStage)
        return record is not None and (claims is None or len(record.classes) >= len(claims.claims))

    def unparsed(self, record: Record, sample_records: dict[str, Record]) -> tuple[int, int, Counter[str]]:
        assert isinstance(record, WeightsRecord)
        return (len(record.classes), sum(1 for c in record.classes if c is None),
                Counter(e for e in record.errors if e))

    async def produce(self, ctx: RunContext, sample: Sample) -> WeightsRecord:
        return await weigh_claims(ctx.clients["weighting"], sample.prompt.text, sample.need(ClaimsStage),
                                  sample.get(EvidenceStage), uses_evidence=sample.evidence.uses_evidence,
                                  claims_per_call=ctx.claims_per_call, evidence_tokens=ctx.evidence_tokens,
                                  judge=ctx.judges["weighting"])
