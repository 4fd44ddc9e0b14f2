"""Stage 4b: claim weights — the informativeness judge classifies every claim of an answer.

Claims are classified in spans (default 25 per call), each call with the question and up to
CONTEXT_CLAIMS claims before the span, so restatements of earlier claims are found across
spans. Spans are independent: their calls go out together. A claim whose class is missing
or unknown gets no class and a counted error kind; it is left out of the weighted terms.
"""

from __future__ import annotations

import asyncio

from factbench.judges.informativeness import INFORMATIVENESS_JUDGE, informativeness_messages
from factbench.judges.judge import Judge
from factbench.llm.client import LLMClient
from factbench.stages.base import RunContext, Sample, Stage
from factbench.store.records import ClaimsRecord, WeightsRecord
from factbench.tasks import Task

DEFAULT_CLAIMS_PER_WEIGHT_CALL = 25
CONTEXT_CLAIMS = 60


async def weigh_claims(client: LLMClient, question: str, claims: ClaimsRecord,
                       claims_per_call: int = DEFAULT_CLAIMS_PER_WEIGHT_CALL,
                       judge: Judge = INFORMATIVENESS_JUDGE) -> WeightsRecord:
    template = judge.template
    texts = [c.text for c in claims.claims]
    size = max(1, claims_per_call)

    async def one(start: int):
        numbered = [(i + 1, texts[i]) for i in range(start, min(len(texts), start + size))]
        earlier = [(i + 1, texts[i]) for i in range(max(0, start - CONTEXT_CLAIMS), start)]
        ids = [n for n, _ in numbered]
        completion = await client.complete(informativeness_messages(question, earlier, numbered),
                                           template=template.id, schema=template.schema, schema_name="informativeness",
                                           accept=lambda c: not any(judge.parse(c.text, ids)[2]))  # never cache garbage
        classes, same_as, errors = judge.parse(completion.text, [n for n, _ in numbered])
        if completion.finish_reason == "length":
            errors = [("truncated_output" if e else e) for e in errors]
        return completion.text, classes, same_as, errors

    record = WeightsRecord(task=claims.task, id=claims.id, classes=[], same_as=[], errors=[],
                           judge=template.id)
    for text, classes, same_as, errors in await asyncio.gather(*(one(s) for s in range(0, len(texts), size))):
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
        asked again, the unchanged spans from the call cache)."""
        record, claims = sample.records.get(self.name), sample.records.get("claims")
        return record is not None and (claims is None or len(record.classes) >= len(claims.claims))

    async def run(self, run: RunContext, sample: Sample) -> WeightsRecord:
        return await weigh_claims(run.clients["weighting"], sample.prompt.text, sample.records["claims"],
                                  run.claims_per_weight_call, run.judges["weighting"])
