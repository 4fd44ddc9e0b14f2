"""Stage 4b: claim weights — the informativeness judge classifies every claim of an answer.

The claims are classified in the same calls that verify them (:func:`verification_calls`), with
the same prompt up to the claims (instructions, question, claims), so on a prefix-caching server
a classification call prefills only its last lines; it runs after the verdicts, when that prefix
is cached, and carries no evidence. Each call also sees up to CONTEXT_CLAIMS claims before its own, so restatements of earlier
claims are found across calls. A claim whose class is missing or unknown gets no class and a
counted error kind, and is asked again on the next resume (only those claims, up to
--max-judge-attempts); an answer still missing a class is unscored, never scored on part of its claims.
"""

from __future__ import annotations

import asyncio
import functools
from collections import Counter

from factbench.judges.informativeness import INFORMATIVENESS_JUDGE, informativeness_messages
from factbench.judges.judge import Judge
from factbench.llm.client import LLMClient
from factbench.llm.memo import item_key, judge_once, memo_key, normalise_claim
from factbench.stages.base import JudgeRole, RunContext, Sample, Stage
from factbench.stages.claims import ClaimsStage
from factbench.stages.evidence import EvidenceStage
from factbench.stages.verify import DEFAULT_CLAIMS_PER_CALL, DEFAULT_EVIDENCE_TOKENS, verification_calls
from factbench.store.records import Claim, ClaimsRecord, EvidenceRecord, Record, WeightsRecord

CONTEXT_CLAIMS = 60


def needs_completion(record: WeightsRecord, n_claims: int, max_attempts: int) -> bool:
    """Claims never classified (added when the claims were completed), or claims whose class did not
    parse (malformed output, a claim left out, an unknown class) with attempts left."""
    if len(record.classes) < n_claims:
        return True
    return any(cls is None for cls in record.classes[:n_claims]) and record.attempt < max_attempts


async def weigh_claims(client: LLMClient, question: str, claims: ClaimsRecord, evidence: EvidenceRecord | None,
                       *, uses_evidence: bool = True, claims_per_call: int = DEFAULT_CLAIMS_PER_CALL,
                       evidence_tokens: int = DEFAULT_EVIDENCE_TOKENS,
                       judge: Judge = INFORMATIVENESS_JUDGE, previous: WeightsRecord | None = None) -> WeightsRecord:
    """Classes for the claims of one answer. With `previous`, only its claims without a class are
    asked again (batched among themselves); its classes are kept."""
    template = judge.template_for(uses_evidence)
    texts = [c.text for c in claims.claims]
    n = len(texts)
    classes: list[str | None] = [None] * n
    same_as: list[int | None] = [None] * n
    errors: list[str | None] = ["missing_class"] * n
    raw: list[str] = []
    if previous is not None:
        kept = min(n, len(previous.classes), len(previous.same_as), len(previous.errors))
        classes[:kept], same_as[:kept], errors[:kept] = (previous.classes[:kept], previous.same_as[:kept],
                                                         previous.errors[:kept])
        raw = list(previous.raw)
    todo = [i for i in range(n) if classes[i] is None]
    build = judge.messages or informativeness_messages

    async def one(batch: list[int]):
        numbered = [(i + 1, texts[i]) for i in batch]
        earlier = [(i + 1, texts[i]) for i in range(max(0, batch[0] - CONTEXT_CLAIMS), batch[0])]
        ids = [number for number, _ in numbered]
        completion = await client.complete(build(template, question, numbered, earlier),
                                           template=template.id, schema=template.schema, schema_name="informativeness",
                                           accept=lambda c: not any(judge.parse(c.text, ids)[2]))  # never cache garbage
        got, refs, errs = judge.parse(completion.text, ids)
        if completion.finish_reason == "length":
            errs = [("truncated_output" if e else e) for e in errs]
        return completion.text, got, refs, errs

    calls = verification_calls(todo, evidence, uses_evidence, claims_per_call, evidence_tokens, with_passages=False)
    for batch, (text, got, refs, errs) in zip((c.claims for c in calls),
                                              await asyncio.gather(*(one(call.claims) for call in calls))):
        raw.append(text)
        for i, cls, ref, err in zip(batch, got, refs, errs):  # claim numbers -> indices
            classes[i], same_as[i], errors[i] = cls, (None if ref is None else ref - 1), err
    return WeightsRecord(task=claims.task, id=claims.id, classes=classes, same_as=same_as, errors=errors,
                         judge=template.id, raw=raw, attempt=previous.attempt + 1 if previous else 1)


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
        """Every claim has a class, or its attempts are spent (only parsed answers are done)."""
        record, claims = sample.get(WeightsStage), sample.get(ClaimsStage)
        n_claims = len(claims.claims) if claims is not None else 0
        return record is not None and not needs_completion(record, n_claims, run.max_judge_attempts)

    def unparsed(self, record: Record, sample_records: dict[str, Record]) -> tuple[int, int, Counter[str]]:
        assert isinstance(record, WeightsRecord)
        return (len(record.classes), sum(1 for c in record.classes if c is None),
                Counter(e for e in record.errors if e))

    async def produce(self, ctx: RunContext, sample: Sample) -> WeightsRecord:
        claims, previous, judge = sample.need(ClaimsStage), sample.get(WeightsStage), ctx.judges["weighting"]

        async def weigh(before: WeightsRecord | None) -> WeightsRecord:
            return await weigh_claims(ctx.clients["weighting"], sample.prompt.text, claims, sample.get(EvidenceStage),
                                      uses_evidence=sample.evidence.uses_evidence, claims_per_call=ctx.claims_per_call,
                                      evidence_tokens=ctx.evidence_tokens, judge=judge, previous=before)

        memo = ctx.memo
        if memo is None:
            return await weigh(previous)
        # A claim's class against its question (informative, trivial, off topic) is shared by the
        # answers of a prompt; whether it restates an earlier claim belongs to its own answer: it is
        # the judge's answer for the claims judged here, and for a shared class the restatements
        # already recorded between this claim and the earlier claims of this answer.
        n = len(claims.claims)
        classes: list[str | None] = [None] * n
        same_as: list[int | None] = [None] * n
        errors: list[str | None] = ["missing_class"] * n
        raw: list[str] = []
        if previous is not None:
            kept = min(n, len(previous.classes), len(previous.same_as), len(previous.errors))
            classes[:kept], same_as[:kept], errors[:kept] = (previous.classes[:kept], previous.same_as[:kept],
                                                             previous.errors[:kept])
            raw = list(previous.raw)
        base = class_key_base(ctx, sample)
        normal = [normalise_claim(c.text) for c in claims.claims]
        keys = {i: item_key(base, "class", normal[i]) for i in range(n) if classes[i] is None}
        template = judge.template_for(sample.evidence.uses_evidence)
        judged_here: set[int] = set()

        def record(attempt: int, classes_now: list[str | None]) -> WeightsRecord:
            return WeightsRecord(task=claims.task, id=claims.id, classes=classes_now, same_as=list(same_as),
                                 errors=list(errors), judge=template.id, raw=raw, attempt=attempt)

        async def judge_these(indices: list[int]) -> dict[int, dict[str, str] | None]:
            nonlocal raw

            async def alone() -> list[tuple[str | None, int | None, str | None, list[str]]]:
                nonlocal raw
                asked = set(indices)  # the others carry a stand-in class, so the calls leave them out
                done = await weigh(record(0, [c if c is not None or i in asked else "informative"
                                              for i, c in enumerate(classes)]))
                raw = done.raw
                return [(done.classes[i], done.same_as[i], done.errors[i], []) for i in indices]

            me = object()  # tells this answer's claims from the others' in a joint call
            items = [(claims.claims[i].text, me, i) for i in indices]
            jointly = functools.partial(weigh_jointly, ctx, sample, claims)
            results = await memo.together(item_key(base, "class-group"), items, alone, jointly)
            out: dict[int, dict[str, str] | None] = {}
            pairs = {}
            for i, (cls, ref, error, texts) in zip(indices, results):
                classes[i], same_as[i], errors[i] = cls, ref, error
                raw += [t for t in texts if t not in raw]
                judged_here.add(i)
                if cls == "restates" and ref is not None:  # a restatement is on topic and not trivial
                    pairs[restates_key(base, normal[i], normal[ref])] = {"restates": True}
                    out[i] = {"class": "informative"}
                else:
                    out[i] = {"class": cls} if cls is not None and cls != "restates" else None
            memo.put_many("restates", pairs)
            return out

        values = await judge_once(memo, "classes", keys, judge_these)
        shared = [i for i, v in values.items() if v is not None and i not in judged_here]
        for i in shared:
            classes[i], same_as[i], errors[i] = values[i]["class"], None, None
        candidates = {restates_key(base, normal[i], normal[j]): (i, j) for i in shared if classes[i] == "informative"
                      for j in range(max(0, i - CONTEXT_CLAIMS), i)}
        for key in sorted(memo.get_many(list(candidates)), key=lambda k: candidates[k]):
            i, j = candidates[key]
            if classes[i] == "informative":
                classes[i], same_as[i] = "restates", j
        return record(previous.attempt + 1 if previous else 1, classes)


async def weigh_jointly(ctx: RunContext, sample: Sample, claims: ClaimsRecord, items: list[tuple[str, object, int]]
                        ) -> list[tuple[str | None, int | None, str | None, list[str]]]:
    """Claims of several answers to one question (text, answer, index in it) classified together:
    (class, the claim of the same answer it restates, error kind, raw outputs) per claim. A claim
    said to restate another answer's claim is informative for its own answer."""
    joint = ClaimsRecord(task=claims.task, id=claims.id, abstained=False, sentences=[], extractor=claims.extractor,
                         claims=[Claim(text=text, sentence=0) for text, _, _ in items])
    done = await weigh_claims(ctx.clients["weighting"], sample.prompt.text, joint, None,
                              uses_evidence=sample.evidence.uses_evidence, claims_per_call=ctx.claims_per_call,
                              evidence_tokens=ctx.evidence_tokens, judge=ctx.judges["weighting"])
    out = []
    for (_, answer, _), cls, ref, error in zip(items, done.classes, done.same_as, done.errors):
        if cls == "restates":
            if ref is not None and items[ref][1] is answer:
                ref = items[ref][2]
            else:
                cls, ref = "informative", None
        out.append((cls, ref, error, done.raw))
    return out


def class_key_base(ctx: RunContext, sample: Sample) -> str:
    """The key of what a claim's class depends on besides the claim: the weighting judge's identity
    (model and decoding, template and parser) and the question."""
    judge = ctx.judges["weighting"]
    return memo_key("class", {"judge": ctx.clients["weighting"].spec.identity(),
                              "template": judge.id_for(sample.evidence.uses_evidence), "question": sample.prompt.text})


def restates_key(base: str, claim: str, earlier: str) -> str:
    """The memo key of "`claim` restates `earlier`" (both normalised) under a judge and question."""
    return item_key(base, "restates", claim, earlier)
