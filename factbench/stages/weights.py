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

from factbench.judges.informativeness import INFORMATIVENESS_JUDGE, informativeness_messages
from factbench.judges.judge import Judge
from factbench.llm.client import LLMClient
from factbench.stages.base import RunContext, Sample, Stage
from factbench.stages.verify import DEFAULT_CLAIMS_PER_CALL, DEFAULT_EVIDENCE_TOKENS, verification_calls
from factbench.store.records import ClaimsRecord, EvidenceRecord, WeightsRecord
from factbench.tasks import Task

CONTEXT_CLAIMS = 60


async def weigh_claims(client: LLMClient, question: str, claims: ClaimsRecord, evidence: EvidenceRecord | None,
                       *, uses_evidence: bool = True, claims_per_call: int = DEFAULT_CLAIMS_PER_CALL,
                       evidence_tokens: int = DEFAULT_EVIDENCE_TOKENS,
                       judge: Judge = INFORMATIVENESS_JUDGE) -> WeightsRecord:
    template = judge.template_for(uses_evidence)
    texts = [c.text for c in claims.claims]

    async def one(batch: list[int]):
        numbered = [(i + 1, texts[i]) for i in batch]
        earlier = [(i + 1, texts[i]) for i in range(max(0, batch[0] - CONTEXT_CLAIMS), batch[0])]
        ids = [n for n, _ in numbered]
        completion = await client.complete(informativeness_messages(template, question, numbered, earlier),
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


class WeightsStage(Stage):
    """Runs where the run has a weighting judge (weighting on); the weights of an abstention are empty."""

    name = "weights"
    role = "weighting"

    def applies(self, run: RunContext, task: Task) -> bool:
        return "weighting" in run.judges and "weighting" in run.clients

    def wanted(self, run: RunContext, sample: Sample) -> bool:
        return self.applies(run, sample.task) and sample.records.get("claims") is not None

    def done(self, run: RunContext, sample: Sample) -> bool:
        """Weights cover every claim (claims completed on a resume need theirs: the weights are
        asked again, the unchanged calls from the call cache)."""
        record, claims = sample.records.get(self.name), sample.records.get("claims")
        return record is not None and (claims is None or len(record.classes) >= len(claims.claims))

    async def run(self, run: RunContext, sample: Sample) -> WeightsRecord:
        return await weigh_claims(run.clients["weighting"], sample.prompt.text, sample.records["claims"],
                                  sample.records.get("evidence"), uses_evidence=sample.evidence.uses_evidence,
                                  claims_per_call=run.claims_per_call, evidence_tokens=run.evidence_tokens,
                                  judge=run.judges["weighting"])
