"""Stage 4: verdicts. An answer's claims are judged against one evidence block: the pooled,
deduplicated passages of all its claims (every claim's best passage first), up to a token
budget. The block comes right after the fixed instructions, so every call of the answer
(batches of claims, sent together) shares the prompt up to its claims and a prefix-caching
server prefills the block once. When the claims' best passages alone exceed the budget, the
claims are split, in order, into groups whose best passages fit, each group with its block.

Labels: supported / unsupported / unverifiable (ternary, default) or supported /
unsupported (binary). A claim whose label is missing or unknown gets no label and a
counted error kind; it is never scored.
"""

from __future__ import annotations

import asyncio

from factbench.judges.judge import Judge
from factbench.judges.templates import verification_messages
from factbench.llm.client import LLMClient
from factbench.stages.base import RunContext, Sample, Stage
from factbench.store.records import ClaimsRecord, EvidenceRecord, Passage, VerdictsRecord

DEFAULT_CLAIMS_PER_CALL = 30
DEFAULT_EVIDENCE_TOKENS = 2000  # per evidence block (one per answer, unless its claims' best passages need more)
CHARS_PER_TOKEN = 4  # budget estimate without a tokenizer dependency
MAX_PASSAGE_TOKENS = 400


def approx_tokens(text: str) -> int:
    return len(text) // CHARS_PER_TOKEN + 1


def passage_tokens(passage: Passage) -> int:
    """What a passage costs in the prompt: its text (at most MAX_PASSAGE_TOKENS), title and marker."""
    return min(approx_tokens(passage.text), MAX_PASSAGE_TOKENS) + approx_tokens(f"[P10] {passage.title}: ") - 1


def pool_evidence(per_claim: list[list[int]], passages: list[Passage], budget_tokens: int) -> list[tuple[str, str]]:
    """Round-robin over the claims' ranked passages (each claim's best first), deduplicated,
    until the budget is spent: every claim gets its top passage before any gets a second."""
    chosen: list[int] = []
    seen: set[int] = set()
    used = 0
    depth = max((len(ids) for ids in per_claim), default=0)
    for rank in range(depth):
        for ids in per_claim:
            if rank >= len(ids) or ids[rank] in seen:
                continue
            cost = passage_tokens(passages[ids[rank]])
            if used + cost > budget_tokens:
                continue
            seen.add(ids[rank])
            chosen.append(ids[rank])
            used += cost
    out = []
    for i in chosen:
        p = passages[i]
        text = p.text if approx_tokens(p.text) <= MAX_PASSAGE_TOKENS else p.text[: MAX_PASSAGE_TOKENS * CHARS_PER_TOKEN]
        out.append((p.title, text))
    return out


def claim_groups(per_claim: list[list[int]], passages: list[Passage], budget_tokens: int) -> list[range]:
    """Consecutive claims, grouped so that each group's best passages (deduplicated) fit the budget."""
    groups: list[range] = []
    start, used, tops = 0, 0, set()
    for i, ids in enumerate(per_claim):
        cost = passage_tokens(passages[ids[0]]) if ids and ids[0] not in tops else 0
        if i > start and used + cost > budget_tokens:
            groups.append(range(start, i))
            start, used, tops = i, 0, set()
            cost = passage_tokens(passages[ids[0]]) if ids else 0
        if ids:
            tops.add(ids[0])
        used += cost
    groups.append(range(start, len(per_claim)))
    return groups


def batches(group: range, size: int) -> list[range]:
    """`group` in calls of at most `size` claims, as even as possible."""
    n = max(1, -(-len(group) // max(1, size)))
    bounds = [group.start + len(group) * k // n for k in range(n + 1)]
    return [range(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]


async def verify_claims(client: LLMClient, claims: ClaimsRecord, evidence: EvidenceRecord | None, *,
                        judge: Judge, uses_evidence: bool = True,
                        claims_per_call: int = DEFAULT_CLAIMS_PER_CALL,
                        evidence_tokens: int = DEFAULT_EVIDENCE_TOKENS) -> VerdictsRecord:
    template = judge.template_for(uses_evidence)
    mode = judge.mode or "ternary"
    texts = [c.text for c in claims.claims]
    with_passages = uses_evidence and evidence is not None
    groups = claim_groups(evidence.per_claim, evidence.passages, evidence_tokens) if with_passages \
        else [range(len(texts))]

    async def one(batch: range, pooled: list[tuple[str, str]]):
        completion = await client.complete(verification_messages(template, pooled, texts[batch.start:batch.stop]),
                                           template=template.id, schema=template.schema, schema_name="verdicts")
        got, errs = judge.parse(completion.text, len(batch), mode)
        if completion.finish_reason == "length":
            errs = [("truncated_output" if e else e) for e in errs]
        return completion.text, got, errs

    calls = []
    for group in groups:
        pooled: list[tuple[str, str]] = []
        if with_passages:
            pooled = pool_evidence(evidence.per_claim[group.start:group.stop], evidence.passages, evidence_tokens)
        if uses_evidence and not pooled:
            # Nothing was retrieved for these claims: say so rather than show an empty block.
            pooled = [("", "(no evidence was found for these claims)")]
        calls += [one(batch, pooled) for batch in batches(group, claims_per_call)]

    labels: list[str | None] = []
    errors: list[str | None] = []
    raw: list[str] = []
    # All calls of an answer go out together (those of a group share their evidence prefix);
    # results are kept in claim order.
    for text, got, errs in await asyncio.gather(*calls):
        raw.append(text)
        labels.extend(got)
        errors.extend(errs)
    backend = evidence.backend if evidence is not None else "none"
    return VerdictsRecord(task=claims.task, id=claims.id, labels=labels, errors=errors, verifier=template.id,
                          evidence_backend=backend, raw=raw)


class VerdictsStage(Stage):
    name = "verdicts"
    role = "verifier"

    async def run(self, run: RunContext, sample: Sample) -> VerdictsRecord:
        return await verify_claims(run.clients["verifier"], sample.records["claims"], sample.records["evidence"],
                                   judge=run.judges["verifier"], uses_evidence=sample.evidence.uses_evidence,
                                   claims_per_call=run.claims_per_call, evidence_tokens=run.evidence_tokens)
