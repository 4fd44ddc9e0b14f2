"""Stage 4b: claim weights — the informativeness judge classifies every claim of an answer.

The claims are classified in the same calls that verify them (:func:`verification_calls`), with
the same prompt up to the claims (instructions, question, claims and the passage numbers each
claim is verified on), so on a prefix-caching server a classification call prefills only its
last lines; it runs after the verdicts, when that prefix is cached, and carries no evidence.
Each call also sees up to CONTEXT_CLAIMS earlier claims that it does not hold, so restatements
of earlier claims are found across calls. A claim whose class is missing or unknown gets no
class and a counted error kind, and is asked again on the next resume (only those claims, up to
--max-judge-attempts); an answer still missing a class is unscored, never scored on part of its claims.
"""

from __future__ import annotations

import asyncio
import functools
from collections import Counter
from dataclasses import dataclass
from typing import Any

from factbench.judges.informativeness import (
    INFORMATIVENESS_JUDGE,
    book_template,
    informativeness_messages,
    sections_messages,
)
from factbench.judges.judge import Judge
from factbench.judges.templates import JudgeTemplate
from factbench.llm.client import LLMClient
from factbench.llm.memo import containers, memo_key, normalise_claim
from factbench.stages.base import JudgeRole, RunContext, Sample, Stage
from factbench.stages.claims import ClaimsStage
from factbench.stages.evidence import EvidenceStage
from factbench.stages.grounding import terms
from factbench.stages.verify import (
    DEFAULT_CLAIMS_PER_CALL,
    DEFAULT_EVIDENCE_TOKENS,
    VerificationCall,
    verification_calls,
)
from factbench.store.records import ClaimsRecord, EvidenceRecord, InformativenessRecord, Record

CONTEXT_CLAIMS = 60


def needs_completion(record: InformativenessRecord, n_claims: int, max_attempts: int) -> bool:
    """Claims never classified (added when the claims were completed), or claims whose class did not
    parse (malformed output, a claim left out, an unknown class) with attempts left."""
    if len(record.classes) < n_claims:
        return True
    return any(cls is None for cls in record.classes[:n_claims]) and record.attempt < max_attempts


async def weigh_claims(client: LLMClient, question: str, claims: ClaimsRecord, evidence: EvidenceRecord | None,
                       *, uses_evidence: bool = True, claims_per_call: int = DEFAULT_CLAIMS_PER_CALL,
                       evidence_tokens: int = DEFAULT_EVIDENCE_TOKENS,
                       judge: Judge = INFORMATIVENESS_JUDGE, previous: InformativenessRecord | None = None) -> InformativenessRecord:
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

    async def one(call: VerificationCall):
        batch = call.claims
        numbered = [(i + 1, texts[i]) for i in batch]
        members = set(batch)  # context: the claims before the last of the call that it does not hold
        earlier = [(i + 1, texts[i]) for i in range(max(0, batch[-1] - CONTEXT_CLAIMS), batch[-1]) if i not in members]
        ids = [number for number, _ in numbered]
        if judge.messages is None:  # the built-in layout: the verification call's prompt up to the claims
            messages = informativeness_messages(template, question, numbered, earlier, refs=call.refs)
        else:
            messages = judge.messages(template, question, numbered, earlier)
        completion = await client.complete(messages, template=template.id, schema=template.schema,
                                           schema_name="informativeness",
                                           accept=lambda c: not any(judge.parse(c.text, ids)[2]))  # never cache garbage
        got, refs, errs = judge.parse(completion.text, ids)
        if completion.finish_reason == "length":
            errs = [("truncated_output" if e else e) for e in errs]
        return completion.text, got, refs, errs

    calls = verification_calls(todo, evidence, uses_evidence, claims_per_call, evidence_tokens)
    for batch, (text, got, refs, errs) in zip((c.claims for c in calls),
                                              await asyncio.gather(*(one(call) for call in calls))):
        raw.append(text)
        for i, cls, ref, err in zip(batch, got, refs, errs):  # claim numbers -> indices
            classes[i], same_as[i], errors[i] = cls, (None if ref is None else ref - 1), err
    return InformativenessRecord(task=claims.task, id=claims.id, classes=classes, same_as=same_as, errors=errors,
                         judge=template.id, raw=raw, attempt=previous.attempt + 1 if previous else 1)


INFORMATIVENESS_ROLE = JudgeRole("informativeness", "informativeness-judge", "override the judge for the informativeness role",
                      INFORMATIVENESS_JUDGE.name, former_flags=("weighting-judge",))


class InformativenessStage(Stage[InformativenessRecord]):
    """Runs where the run has an informativeness judge (informativeness on); an abstention has no classes.
    It comes right after the verdicts: its calls then find their shared prefix cached."""

    name = "informativeness"
    former_names = ("weights",)  # its file in run directories written before the rename
    record_type = InformativenessRecord
    order = 50
    reads = (ClaimsStage, EvidenceStage)
    roles = (INFORMATIVENESS_ROLE,)
    role = "informativeness"

    def wanted(self, ctx: RunContext, sample: Sample) -> bool:
        return self.applies(ctx, sample.task) and sample.get(ClaimsStage) is not None

    def done(self, run: RunContext, sample: Sample) -> bool:
        """Every claim has a class, or its attempts are spent (only parsed answers are done)."""
        record, claims = sample.get(InformativenessStage), sample.get(ClaimsStage)
        n_claims = len(claims.claims) if claims is not None else 0
        return record is not None and not needs_completion(record, n_claims, run.max_judge_attempts)

    def unparsed(self, record: Record, sample_records: dict[str, Record]) -> tuple[int, int, Counter[str]]:
        assert isinstance(record, InformativenessRecord)
        return (len(record.classes), sum(1 for c in record.classes if c is None),
                Counter(e for e in record.errors if e))

    async def produce(self, ctx: RunContext, sample: Sample) -> InformativenessRecord:
        if ctx.memo is not None:
            return await classify_by_book(ctx, sample)
        return await weigh_claims(ctx.clients["informativeness"], sample.prompt.text, sample.need(ClaimsStage),
                                  sample.get(EvidenceStage), uses_evidence=sample.evidence.uses_evidence,
                                  claims_per_call=ctx.claims_per_call, evidence_tokens=ctx.evidence_tokens,
                                  judge=ctx.judges["informativeness"], previous=sample.get(InformativenessStage))


# ------------------------------------------------------------------ with the memo: classes by question

def class_book(ctx: RunContext, sample: Sample) -> str:
    """The book a sample's claims are classified in: the informativeness judge's identity (model and
    decoding, template, parser) and the question. Evidence is not part of it: classes are by
    content, and the classification prompt carries none."""
    judge, uses_evidence = ctx.judges["informativeness"], sample.evidence.uses_evidence
    return memo_key("classes", {"judge": ctx.clients["informativeness"].spec.identity(),
                                "template": book_template(judge, uses_evidence).id,
                                "parser": judge.parser_version, "question": sample.prompt.text})


RESTATEMENT_SHARE = 0.5  # of the smaller claim's content words and numbers, found in the other
RESTATEMENT_CANDIDATES = 3  # per new claim, those sharing most


def restatement_context(question: str, new: dict[str, str], book: dict[str, dict], limit: int) -> list[tuple[str, str]]:
    """The claims of the book a new claim could restate or be restated by: for each new claim, the
    RESTATEMENT_CANDIDATES claims sharing most of the content words and numbers (beyond the
    question's) of the smaller of the two, at least half of them; at most `limit` in all, in
    the book's order. What restates a claim states its name, place or year again, so a claim
    sharing less is left out of the prompt."""
    asked = terms(question)

    def content(text: str) -> frozenset[str]:
        t = terms(text)
        return frozenset((t.words - asked.words) | (t.numbers - asked.numbers))

    have = {claim: content(entry["text"]) for claim, entry in book.items()}
    chosen: set[str] = set()
    for text in new.values():
        want = content(text)
        scored: list[tuple[float, float, int, str]] = []
        for claim, theirs in have.items():
            shared = len(want & theirs)
            smaller = min(len(want), len(theirs))
            if shared and shared >= RESTATEMENT_SHARE * smaller:
                scored.append((-shared / smaller, -shared, len(scored), claim))
        chosen.update(claim for *_, claim in sorted(scored)[:RESTATEMENT_CANDIDATES])
    return [(claim, book[claim]["text"]) for claim in book if claim in chosen][:limit]


def _parses(judge: Judge, ids: list[int], completion: Any) -> bool:
    """Whether an output classifies every claim (only such outputs are cached)."""
    return not any(judge.parse(completion.text, ids)[2])


def linked(book: dict[str, dict], claims: list[str]) -> bool:
    """Whether an answer's claims may restate one another: one repeats another, or the book says
    one restates another (directly or through claims the answer does not hold)."""
    if len(set(claims)) < len(claims):
        return True
    held = set(claims)
    return any(containers(book, claim) & held for claim in claims)


@dataclass(frozen=True)
class _Section:
    book: str
    question: str
    claims: list[tuple[str, str]]  # (normalised, text) to classify


async def classify_sections(client: LLMClient, judge: Judge, template: JudgeTemplate, sections: list[_Section],
                            known: dict[str, dict[str, dict]]) -> tuple[dict[str, dict[str, dict]], str]:
    """One call classifying the claims of `sections` (one question each), each shown with the
    claims of its book it could restate: {book: {claim: entry}}, and the raw output."""
    laid_out = []
    by_number: dict[int, tuple[str, str]] = {}  # number -> (book, claim)
    at = 0
    for section in sections:
        context = restatement_context(section.question, dict(section.claims), known[section.book], CONTEXT_CLAIMS)
        earlier = [(at + k + 1, text) for k, (_, text) in enumerate(context)]
        at += len(context)
        numbered = [(at + k + 1, text) for k, (_, text) in enumerate(section.claims)]
        at += len(section.claims)
        for (number, _), (claim, _) in zip([*earlier, *numbered], [*context, *section.claims]):
            by_number[number] = (section.book, claim)
        laid_out.append((section.question, numbered, earlier))
    ids = [number for _, numbered, _ in laid_out for number, _ in numbered]
    if judge.messages is None:
        messages = sections_messages(template, laid_out)
    else:  # a plug-in layout takes one question
        messages = judge.messages(template, *laid_out[0])
    completion = await client.complete(messages, template=template.id, schema=template.schema,
                                       schema_name="informativeness", accept=functools.partial(_parses, judge, ids))
    got, refs, errs = judge.parse(completion.text, ids)
    if completion.finish_reason == "length":
        errs = [("truncated_output" if e else e) for e in errs]
    out: dict[str, dict[str, dict]] = {s.book: {} for s in sections}
    for number, cls, ref, err in zip(ids, got, refs, errs):
        book, claim = by_number[number]
        text = dict(next(s.claims for s in sections if s.book == book))[claim]
        target_book, target = by_number.get(ref, (None, None)) if ref is not None else (None, None)
        whole = {**known[book], **out[book]}
        if err or cls is None:
            out[book][claim] = {"error": err or "missing_class"}
        elif cls == "restates" and target_book is not None and target_book != book:
            out[book][claim] = {"error": "restates_another_question"}
        elif cls == "restates" and target is not None and "class" in whole.get(target, {}):
            # its class by content is the class of what it restates
            out[book][claim] = {"class": whole[target]["class"], "within": target, "text": text}
        else:  # a restatement the judge named no claim for stays one wherever it appears
            out[book][claim] = {"class": cls, "within": None, "text": text}
    return out, completion.text


def section_calls(todo: dict[str, tuple[str, dict[str, str]]], per_call: int) -> list[list[list[_Section]]]:
    """The calls for the claims of several books: books packed whole into calls of at most
    `per_call` claims; a book with more claims alone, in successive calls (each shows what the one
    before classified as context). Each item is a sequence of calls, made in order."""
    sequences: list[list[list[_Section]]] = []
    packed: list[_Section] = []
    for book, (question, claims) in todo.items():
        items = list(claims.items())
        if len(items) > per_call:
            sequences.append([[_Section(book, question, items[i:i + per_call])] for i in range(0, len(items), per_call)])
            continue
        if packed and sum(len(s.claims) for s in packed) + len(items) > per_call:
            sequences.append([packed])
            packed = []
        packed.append(_Section(book, question, items))
    if packed:
        sequences.append([packed])
    return sequences


async def classify_by_book(ctx: RunContext, sample: Sample) -> InformativenessRecord:
    """An answer's classes from its question's book (llm/memo.py). Each distinct claim is classified
    once per question and judge, by content, in a call that shows the book's claims it could
    restate; claims of other answers pending at the same time go out in the same call (those of
    other questions too, with a memo window). An answer none of whose claims restates another
    (the book links none) takes the classes as they are; an answer with such a link is
    classified on its own, as without the memo, since what a claim restates depends on the
    answer's claims before it."""
    memo, judge, client = ctx.memo, ctx.judges["informativeness"], ctx.clients["informativeness"]
    assert memo is not None
    claims, previous, question = sample.need(ClaimsStage), sample.get(InformativenessStage), sample.prompt.text
    uses_evidence = sample.evidence.uses_evidence
    template = book_template(judge, uses_evidence)
    texts = [c.text for c in claims.claims]
    norms = [normalise_claim(t) for t in texts]
    raw: list[str] = list(previous.raw) if previous is not None else []
    book = class_book(ctx, sample)
    group = None if judge.messages is not None else \
        memo_key("classes-group", {"judge": client.spec.identity(), "template": template.id,
                                   "parser": judge.parser_version})

    async def classify(todo: dict[str, tuple[str, dict[str, str]]],
                       known: dict[str, dict[str, dict]]) -> dict[str, dict[str, dict]]:
        out: dict[str, dict[str, dict]] = {b: {} for b in todo}

        async def in_order(calls: list[list[_Section]]) -> None:
            for sections in calls:
                seen = {s.book: {**known[s.book], **{c: e for c, e in out[s.book].items() if "error" not in e}}
                        for s in sections}
                judged, text = await classify_sections(client, judge, template, sections, seen)
                raw.append(text)
                for b, entries in judged.items():
                    out[b].update(entries)

        await asyncio.gather(*(in_order(calls) for calls in section_calls(todo, ctx.claims_per_call)))
        return out

    found = await memo.classes(book, question, dict(zip(norms, texts)), classify, group)
    entries = memo.book(book)
    if all(found.get(c) is not None for c in norms) and linked(entries, norms):
        memo.counts["classes_answers_alone"] += 1
        alone = await weigh_claims(client, question, claims, sample.get(EvidenceStage),
                                   uses_evidence=uses_evidence, claims_per_call=ctx.claims_per_call,
                                   evidence_tokens=ctx.evidence_tokens, judge=judge)
        return alone.model_copy(update={"raw": raw + alone.raw, "attempt": previous.attempt + 1 if previous else 1})
    classes: list[str | None] = [None] * len(texts)
    errors: list[str | None] = [None] * len(texts)
    for i, claim in enumerate(norms):
        entry = found.get(claim)
        if entry is None:
            errors[i] = memo.class_error(book, claim)
        else:
            classes[i] = entry["class"]
    return InformativenessRecord(task=claims.task, id=claims.id, classes=classes, same_as=[None] * len(texts),
                                 errors=errors, judge=template.id, raw=raw,
                                 attempt=previous.attempt + 1 if previous else 1)
