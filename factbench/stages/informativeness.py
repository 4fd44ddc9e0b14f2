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
import re
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
from factbench.llm.memo import memo_key, normalise_claim
from factbench.stages.base import JudgeRole, RunContext, Sample, Stage
from factbench.stages.claims import ClaimsStage
from factbench.stages.evidence import EvidenceStage
from factbench.stages.grounding import STEM, terms
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


_NAME = re.compile(r"(?<!^)(?<![.!?] )\b[A-Z][\w'’-]*")


def similar_claims(question: str, texts: list[str]) -> list[int]:
    """The claims of an answer that may restate one another: a claim repeated (after
    normalisation), two claims sharing a number or a name (a capitalised word inside the
    sentence) beyond the question's, or at least half the content words of the smaller of the
    two. A restatement states the name, place, year or thing it restates again, in whatever
    words ("died in the year 1999", "the death took place in 1999"); claims sharing none of
    that are taken not to restate each other."""
    asked = terms(question)
    asked_words = asked.words | {w.lower()[:STEM] for w in _NAME.findall(question)}
    norms = [normalise_claim(t) for t in texts]
    contents, marks = [], []
    for text in texts:
        t = terms(text)
        contents.append((t.words - asked.words) | (t.numbers - asked.numbers))
        marks.append((t.numbers - asked.numbers) | ({w.lower()[:STEM] for w in _NAME.findall(text)} - asked_words))
    out: set[int] = set()
    for j in range(len(texts)):
        for i in range(j):
            smaller = min(len(contents[i]), len(contents[j]))
            shared = len(contents[i] & contents[j])
            if norms[i] == norms[j] or marks[i] & marks[j] or (shared and shared >= RESTATEMENT_SHARE * smaller):
                out.update((i, j))
    return sorted(out)


def _parses(judge: Judge, ids: list[int], completion: Any) -> bool:
    """Whether an output classifies every claim (only such outputs are cached)."""
    return not any(judge.parse(completion.text, ids)[2])


@dataclass(frozen=True)
class _Section:
    book: str
    question: str
    claims: list[tuple[str, str]]  # (normalised, text) to classify


async def classify_sections(client: LLMClient, judge: Judge, template: JudgeTemplate,
                            sections: list[_Section]) -> tuple[dict[str, dict[str, dict]], str]:
    """One call classifying the claims of `sections` (one question each) by content:
    {book: {claim: entry}}, and the raw output. A claim the judge calls a restatement of another
    of its section takes that one's class: what the two say is the same."""
    laid_out: list[tuple[str, list[tuple[int, str]], list[tuple[int, str]]]] = []
    by_number: dict[int, tuple[str, str, str]] = {}  # number -> (book, claim, text)
    at = 0
    for section in sections:
        numbered = [(at + k + 1, text) for k, (_, text) in enumerate(section.claims)]
        by_number.update({number: (section.book, claim, text)
                          for (number, _), (claim, text) in zip(numbered, section.claims)})
        at += len(section.claims)
        laid_out.append((section.question, numbered, []))
    ids = list(by_number)
    if judge.messages is None:
        messages = sections_messages(template, laid_out)
    else:  # a plug-in layout takes one question
        messages = judge.messages(template, *laid_out[0])
    completion = await client.complete(messages, template=template.id, schema=template.schema,
                                       schema_name="informativeness", accept=functools.partial(_parses, judge, ids))
    got, refs, errs = judge.parse(completion.text, ids)
    if completion.finish_reason == "length":
        errs = [("truncated_output" if e else e) for e in errs]
    parsed = dict(zip(ids, zip(got, refs, errs)))
    out: dict[str, dict[str, dict]] = {s.book: {} for s in sections}

    def entry(number: int, depth: int = 0) -> dict:
        book, claim, text = by_number[number]
        cls, ref, err = parsed[number]
        if err or cls is None:
            return {"error": err or "missing_class"}
        if cls == "restates" and ref in by_number and depth < len(ids):
            if by_number[ref][0] != book:
                return {"error": "restates_another_question"}
            target = entry(ref, depth + 1)
            return target if "error" in target else {"class": target["class"], "text": text}
        return {"class": cls, "text": text}  # a restatement the judge named no claim for stays one

    for number in ids:
        book, claim, _ = by_number[number]
        out[book][claim] = entry(number)
    return out, completion.text


def section_calls(todo: dict[str, tuple[str, dict[str, str]]], per_call: int) -> list[list[_Section]]:
    """The calls for the claims of several books: books packed whole into calls of at most
    `per_call` claims; a book with more claims in calls of its own."""
    calls: list[list[_Section]] = []
    packed: list[_Section] = []
    for book, (question, claims) in todo.items():
        items = list(claims.items())
        if len(items) > per_call:
            calls += [[_Section(book, question, items[i:i + per_call])] for i in range(0, len(items), per_call)]
            continue
        if packed and sum(len(s.claims) for s in packed) + len(items) > per_call:
            calls.append(packed)
            packed = []
        packed.append(_Section(book, question, items))
    if packed:
        calls.append(packed)
    return calls


async def restatements(client: LLMClient, judge: Judge, template: JudgeTemplate, question: str, texts: list[str],
                       similar: list[int]) -> tuple[dict[int, tuple[str | None, int | None, str | None]], str]:
    """Which of an answer's similar claims restate an earlier one of them: one call listing them
    in the answer's order, numbered by their places in it. Per claim: its class in this call,
    the claim it restates, an error kind."""
    numbered = [(i + 1, texts[i]) for i in similar]
    ids = [number for number, _ in numbered]
    messages = (informativeness_messages(template, question, numbered, []) if judge.messages is None
                else judge.messages(template, question, numbered, []))
    completion = await client.complete(messages, template=template.id, schema=template.schema,
                                       schema_name="informativeness", accept=functools.partial(_parses, judge, ids))
    got, refs, errs = judge.parse(completion.text, ids)
    if completion.finish_reason == "length":
        errs = [("truncated_output" if e else e) for e in errs]
    return {i: (cls, None if ref is None or ref - 1 not in similar else ref - 1, err)
            for i, cls, ref, err in zip(similar, got, refs, errs)}, completion.text


async def classify_by_book(ctx: RunContext, sample: Sample) -> InformativenessRecord:
    """An answer's classes with the memo. Each distinct claim is classified by content once per
    question and judge (its book, llm/memo.py); claims of other answers pending at the same time
    go out in the same call (those of other questions too, within a memo window). Restatement
    depends on the answer: only the answer's similar claims (:func:`similar_claims`) can restate
    one another, and when it has any, one call over them, in its order, says which do (a claim
    repeated word for word restates its first occurrence without one)."""
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
        for judged, text in await asyncio.gather(*(classify_sections(client, judge, template, sections)
                                                   for sections in section_calls(todo, ctx.claims_per_call))):
            raw.append(text)
            for b, entries in judged.items():
                out[b].update(entries)
        return out

    found = await memo.classes(book, question, dict(zip(norms, texts)), classify, group)
    classes: list[str | None] = [None] * len(texts)
    same_as: list[int | None] = [None] * len(texts)
    errors: list[str | None] = [None] * len(texts)
    for i, claim in enumerate(norms):
        entry = found.get(claim)
        if entry is None:
            errors[i] = memo.class_error(book, claim)
        else:
            classes[i] = entry["class"]
    similar = similar_claims(question, texts)
    first = {claim: i for i, claim in reversed(list(enumerate(norms)))}
    repeats = {i for i in similar if first[norms[i]] != i}
    for i in repeats:  # a repeat restates the claim's first occurrence
        classes[i], same_as[i], errors[i] = "restates", first[norms[i]], None
    asked = [i for i in similar if i not in repeats]
    if len(asked) > 1 and all(errors[i] is None for i in range(len(texts))):
        memo.counts["restatement_calls"] += 1
        said, text = await restatements(client, judge, template, question, texts, asked)
        raw.append(text)
        for i, (cls, ref, err) in said.items():
            if err or cls is None:
                classes[i], errors[i] = None, err or "missing_class"
            elif cls == "restates":
                classes[i], same_as[i] = "restates", ref
    return InformativenessRecord(task=claims.task, id=claims.id, classes=classes, same_as=same_as, errors=errors,
                                 judge=template.id, raw=raw, attempt=previous.attempt + 1 if previous else 1)
