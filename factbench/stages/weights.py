"""Stage 4b: claim weights — the informativeness judge classifies every claim of an answer.

Claims are classified in spans (default 25 per call), each call with the question and up to
CONTEXT_CLAIMS claims before the span, so restatements of earlier claims are found across
spans. Spans are independent: their calls go out together. A claim whose class is missing
or unknown gets no class and a counted error kind; it is left out of the weighted terms.
"""

from __future__ import annotations

import asyncio

from factbench.judges.informativeness import INFORMATIVENESS, informativeness_messages, parse_classes
from factbench.llm.client import LLMClient
from factbench.store.records import ClaimsRecord, WeightsRecord

DEFAULT_CLAIMS_PER_WEIGHT_CALL = 25
CONTEXT_CLAIMS = 60


async def weigh_claims(client: LLMClient, question: str, claims: ClaimsRecord,
                       claims_per_call: int = DEFAULT_CLAIMS_PER_WEIGHT_CALL) -> WeightsRecord:
    texts = [c.text for c in claims.claims]
    size = max(1, claims_per_call)

    async def one(start: int):
        numbered = [(i + 1, texts[i]) for i in range(start, min(len(texts), start + size))]
        earlier = [(i + 1, texts[i]) for i in range(max(0, start - CONTEXT_CLAIMS), start)]
        completion = await client.complete(informativeness_messages(question, earlier, numbered),
                                           template=INFORMATIVENESS.id, schema=INFORMATIVENESS.schema,
                                           schema_name="informativeness")
        classes, same_as, errors = parse_classes(completion.text, [n for n, _ in numbered])
        if completion.finish_reason == "length":
            errors = [("truncated_output" if e else e) for e in errors]
        return completion.text, classes, same_as, errors

    record = WeightsRecord(task=claims.task, id=claims.id, classes=[], same_as=[], errors=[],
                           judge=INFORMATIVENESS.id)
    for text, classes, same_as, errors in await asyncio.gather(*(one(s) for s in range(0, len(texts), size))):
        record.raw.append(text)
        record.classes.extend(classes)
        record.same_as.extend(None if ref is None else ref - 1 for ref in same_as)  # claim numbers -> indices
        record.errors.extend(errors)
    return record
