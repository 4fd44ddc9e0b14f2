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
    parse_book,
    sections_messages,
)
from factbench.judges.judge import Judge
from factbench.judges.templates import JudgeTemplate
from factbench.llm.client import LLMClient
from factbench.llm.memo import memo_key, normalise_claim
from factbench.stages.base import JudgeRole, RunContext, Sample, Stage
from factbench.stages.claims import ClaimsStage
from factbench.stages.evidence import EvidenceStage
from factbench.stages.grounding import STEM, Terms, terms
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

    calls = verification_calls(todo, evidence, uses_evidence, claims_per_call, evidence_tokens, claims=texts)
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

    def templates(self, judges: dict[str, Judge], uses_evidence: bool) -> dict[str, str]:
        """The judge's template, and for the built-in judge the template of sorting by question
        (used with the verdict memo: on by default, provenance rather than identity)."""
        out = super().templates(judges, uses_evidence)
        by_question = book_template(judges[self.role]) if self.role in judges else None
        if by_question is not None:
            out[by_question.name] = f"{by_question.id}+book{BOOK_PARSER}"
        return out

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
        template = book_template(ctx.judges["informativeness"])
        if ctx.memo is not None and template is not None:
            return await classify_by_book(ctx, sample, template)
        return await weigh_claims(ctx.clients["informativeness"], sample.prompt.text, sample.need(ClaimsStage),
                                  sample.get(EvidenceStage), uses_evidence=sample.evidence.uses_evidence,
                                  claims_per_call=ctx.claims_per_call, evidence_tokens=ctx.evidence_tokens,
                                  judge=ctx.judges["informativeness"], previous=sample.get(InformativenessStage))


# ------------------------------------------------------------------ with the memo: classes by question

def class_book(ctx: RunContext, sample: Sample, template: JudgeTemplate) -> str:
    """The book a sample's claims are sorted in: the informativeness judge's identity (model and
    decoding, its templates, parser) and the question. The evidence is not part of it (classes
    are by content, and the prompt carries none) beyond which of the judge's templates a
    sample's own calls use."""
    judge = ctx.judges["informativeness"]
    return memo_key("classes", {"judge": ctx.clients["informativeness"].spec.identity(), "template": template.id,
                                "own": judge.id_for(sample.evidence.uses_evidence), "parser": BOOK_PARSER,
                                "question": sample.prompt.text})


BOOK_PARSER = "1"  # parse_book's version: part of a book's key
RESTATEMENT_SHARE = 0.5  # of the smaller claim's content words and numbers, found in the other
_NAME = re.compile(r"(?<!^)(?<![.!?] )\b[A-Z][\w'’-]*")


@dataclass(frozen=True)
class _Content:
    words: frozenset[str]  # content words (stems) and numbers, beyond the question's
    marks: frozenset[str]  # numbers and names (capitalised words inside the sentence), beyond the question's


@functools.lru_cache(maxsize=1 << 14)  # a book's claims are compared with every new claim of their question
def _content(text: str, question: str) -> _Content:
    asked, asked_names = _question_terms(question)
    t = terms(text)
    numbers = t.numbers - asked.numbers
    names = frozenset(w.lower()[:STEM] for w in _NAME.findall(text)) - asked_names
    return _Content(frozenset(t.words - asked.words) | numbers, numbers | names)


def _similar(a: _Content, b: _Content) -> bool:
    """Whether one claim may say nothing beyond the other: every number and name of one is in the
    other, or they share at least half the content of the smaller. A restatement, or a part of a
    claim, states the names, places and years it repeats again, in whatever words ("died in the
    year 1999", "the death took place in 1999"), and none that the other does not state."""
    if (a.marks and a.marks <= b.marks) or (b.marks and b.marks <= a.marks):
        return True
    shared = len(a.words & b.words)
    return shared > 0 and shared >= RESTATEMENT_SHARE * min(len(a.words), len(b.words))


@functools.lru_cache(maxsize=1024)
def _question_terms(question: str) -> tuple[Terms, frozenset[str]]:
    asked = terms(question)
    return asked, asked.words | {w.lower()[:STEM] for w in _NAME.findall(question)}


RESTATEMENT_CANDIDATES = 5  # book claims shown per new claim, the closest first


def _closeness(a: _Content, b: _Content) -> tuple[int, float]:
    shared = len(a.words & b.words)
    return len(a.marks & b.marks), shared / max(1, min(len(a.words), len(b.words)))


def restatement_context(question: str, new: dict[str, str], book: dict[str, dict], limit: int) -> list[tuple[str, str]]:
    """The claims of the book that a new claim may repeat or hold (:func:`_similar`): for each new
    claim the RESTATEMENT_CANDIDATES closest (most numbers and names shared, then the largest
    share of content), at most `limit` in all, in the book's order: the judge lists the pairs
    among them and the new claims."""
    have = [(claim, _content(entry["text"], question)) for claim, entry in book.items()]
    chosen: set[str] = set()
    for text in new.values():
        want = _content(text, question)
        close = [(_closeness(want, theirs), -k, claim) for k, (claim, theirs) in enumerate(have)
                 if _similar(want, theirs)]
        chosen.update(claim for *_, claim in sorted(close, reverse=True)[:RESTATEMENT_CANDIDATES])
    return [(claim, book[claim]["text"]) for claim in book if claim in chosen][:limit]


def within(book: dict[str, dict], a: str, b: str) -> bool:
    """Whether the book holds that claim `a` says nothing beyond claim `b` (the pair is recorded on
    whichever of the two was sorted in the call that listed it)."""
    return b in (book.get(a) or {}).get("within", ()) or a in (book.get(b) or {}).get("holds", ())


def answer_classes(book: dict[str, dict], claims: list[str], found: dict[str, dict | None]
                   ) -> tuple[list[str | None], list[int | None]]:
    """An answer's classes from its claims' entries: trivial and off topic as sorted; a claim that
    says nothing beyond an earlier claim of the answer (or repeats it) restates the first such;
    the rest as sorted. The same rule as an answer's own classification call."""
    classes: list[str | None] = []
    same_as: list[int | None] = []
    for j, claim in enumerate(claims):
        entry = found.get(claim)
        if entry is None:
            classes.append(None)
            same_as.append(None)
            continue
        ref = None
        if entry["class"] not in ("trivial", "off_topic"):
            ref = next((i for i in range(j) if claims[i] == claim or within(book, claim, claims[i])), None)
        classes.append("restates" if ref is not None else entry["class"])
        same_as.append(ref)
    return classes, same_as


def _parses(judge: Judge, ids: list[int], completion: Any) -> bool:
    """Whether an output classifies every claim (only such outputs are cached)."""
    return not any(judge.parse(completion.text, ids)[2])


def _book_parses(ids: list[int], listed: set[int], completion: Any) -> bool:
    return not any(parse_book(completion.text, ids, listed)[1])


async def sort_call(client: LLMClient, template: JudgeTemplate, messages: list[dict[str, str]],
                    listed: dict[int, tuple[str, str, str]], asked: list[int]) -> tuple[dict[str, dict[str, dict]], str]:
    """One sorting call: `listed` names every claim number in the prompt (book, claim, text),
    `asked` those to sort. {book: {claim: entry}} for the asked claims (an entry with the pairs
    it is in: "within" the claims it says nothing beyond, "holds" those that say nothing beyond
    it; {"error": kind} where the output did not sort it), and the raw output."""
    completion = await client.complete(messages, template=template.id, schema=template.schema,
                                       schema_name="informativeness",
                                       accept=functools.partial(_book_parses, asked, set(listed)))
    classes, errors, pairs = parse_book(completion.text, asked, set(listed))
    if completion.finish_reason == "length":
        errors = [("truncated_output" if e else e) for e in errors]
    out: dict[str, dict[str, dict]] = {}
    for number, cls, err in zip(asked, classes, errors):
        book, claim, text = listed[number]
        out.setdefault(book, {})[claim] = {"error": err or "missing_class"} if err or cls is None else \
            {"class": cls, "text": text, "within": [], "holds": []}
    for a, b in pairs:
        (book_a, claim_a, _), (book_b, claim_b, _) = listed[a], listed[b]
        if book_a != book_b or claim_a == claim_b:
            continue  # a pair across questions means nothing
        if "class" in out.get(book_a, {}).get(claim_a, {}):
            out[book_a][claim_a]["within"].append(claim_b)
        if "class" in out.get(book_b, {}).get(claim_b, {}):
            out[book_b][claim_b]["holds"].append(claim_a)
    return out, completion.text


@dataclass(frozen=True)
class _Section:
    book: str
    question: str
    claims: list[tuple[str, str]]  # (normalised, text) to sort


async def sort_sections(client: LLMClient, template: JudgeTemplate, sections: list[_Section],
                        known: dict[str, dict[str, dict]]) -> tuple[dict[str, dict[str, dict]], str]:
    """One call sorting the claims of `sections` (one question each; answers of several prompts),
    each section with the claims of its book they may repeat or hold."""
    laid_out: list[tuple[str, list[tuple[int, str]], list[tuple[int, str]]]] = []
    listed: dict[int, tuple[str, str, str]] = {}
    asked: list[int] = []
    at = 0
    for section in sections:
        context = restatement_context(section.question, dict(section.claims), known[section.book], CONTEXT_CLAIMS)
        shown = [*context, *section.claims]
        numbers = list(range(at + 1, at + len(shown) + 1))
        at += len(shown)
        listed.update({n: (section.book, claim, text) for n, (claim, text) in zip(numbers, shown)})
        asked += numbers[len(context):]
        laid_out.append((section.question, list(zip(numbers[len(context):], [t for _, t in section.claims])),
                         list(zip(numbers[:len(context)], [t for _, t in context]))))
    return await sort_call(client, template, sections_messages(template, laid_out), listed, asked)


def section_calls(todo: dict[str, tuple[str, dict[str, str]]], per_call: int) -> list[list[list[_Section]]]:
    """The calls for the claims of several books: books packed whole into calls of at most
    `per_call` claims; a book with more claims alone, in successive calls (each shows what the
    ones before sorted as context). Each item is a sequence of calls, made in order."""
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


async def classify_by_book(ctx: RunContext, sample: Sample, template: JudgeTemplate) -> InformativenessRecord:
    """An answer's classes with the memo. Each distinct claim is sorted by content once per
    question and judge (its book, llm/memo.py), with the pairs where one claim says nothing
    beyond another: the claims of the question in the same call, and the book's claims each may
    repeat or hold (:func:`restatement_context`). An answer's restatements follow from those
    pairs (:func:`answer_classes`), so no answer needs a call of its own for them. A sample
    sorting its own claims alone does it in its own classification layout, which shares the
    prompt prefix of its verification; claims of several answers pending at once (of several
    questions, within a memo window) go out together, each under its question."""
    memo, judge, client = ctx.memo, ctx.judges["informativeness"], ctx.clients["informativeness"]
    assert memo is not None
    claims, previous, question = sample.need(ClaimsStage), sample.get(InformativenessStage), sample.prompt.text
    uses_evidence = sample.evidence.uses_evidence
    texts = [c.text for c in claims.claims]
    norms = [normalise_claim(t) for t in texts]
    raw: list[str] = list(previous.raw) if previous is not None else []
    book = class_book(ctx, sample, template)
    group = memo_key("classes-group", {"judge": client.spec.identity(), "template": template.id,
                                       "parser": BOOK_PARSER})
    first_at = {claim: i for i, claim in reversed(list(enumerate(norms)))}

    async def own_layout(new: dict[str, str], known: dict[str, dict]) -> list[tuple[dict[str, dict[str, dict]], str]]:
        """The sample's own claims in the calls its verification made (the same prefix), each
        call with the answer's other claims before it and the book's claims they may repeat or
        hold as context."""
        calls = verification_calls(sorted(first_at[c] for c in new), sample.get(EvidenceStage), uses_evidence,
                                   ctx.claims_per_call, ctx.evidence_tokens, claims=texts)
        book_context = restatement_context(question, new, {c: e for c, e in known.items() if c not in first_at},
                                           CONTEXT_CLAIMS)
        own = judge.template_for(uses_evidence)

        async def one(call: VerificationCall) -> tuple[dict[str, dict[str, dict]], str]:
            members = set(call.claims)
            earlier = [(i + 1, texts[i]) for i in range(max(0, call.claims[-1] - CONTEXT_CLAIMS), call.claims[-1])
                       if i not in members]
            after = len(texts)
            context = earlier + [(after + k + 1, text) for k, (_, text) in enumerate(book_context)]
            listed = {i + 1: (book, norms[i], texts[i]) for i in range(len(texts))}
            listed.update({after + k + 1: (book, claim, text) for k, (claim, text) in enumerate(book_context)})
            numbered = [(i + 1, texts[i]) for i in call.claims]
            messages = informativeness_messages(own, question, numbered, context, refs=call.refs)
            return await sort_call(client, own, messages, {n: listed[n] for n in [*[n for n, _ in numbered],
                                                                                 *[n for n, _ in context]]},
                                   [n for n, _ in numbered])

        return list(await asyncio.gather(*(one(call) for call in calls)))

    async def classify(todo: dict[str, tuple[str, dict[str, str]]],
                       known: dict[str, dict[str, dict]]) -> dict[str, dict[str, dict]]:
        if set(todo) == {book} and set(todo[book][1]) <= set(first_at):
            results = await own_layout(todo[book][1], known[book])
        else:
            async def in_order(calls: list[list[_Section]]) -> list[tuple[dict[str, dict[str, dict]], str]]:
                done: list[tuple[dict[str, dict[str, dict]], str]] = []
                sorted_here: dict[str, dict[str, dict]] = {}  # a large book's earlier calls: context of the next
                for sections in calls:
                    seen = {s.book: {**known[s.book], **sorted_here.get(s.book, {})} for s in sections}
                    done.append(await sort_sections(client, template, sections, seen))
                    for b, entries in done[-1][0].items():
                        sorted_here.setdefault(b, {}).update({c: e for c, e in entries.items() if "error" not in e})
                return done

            results = [r for rs in await asyncio.gather(*(in_order(calls) for calls in
                                                          section_calls(todo, ctx.claims_per_call))) for r in rs]
        out: dict[str, dict[str, dict]] = {b: {} for b in todo}
        for judged, text in results:
            raw.append(text)
            for b, entries in judged.items():
                out.setdefault(b, {}).update(entries)
        return out

    found = await memo.classes(book, question, dict(zip(norms, texts)), classify, group)
    classes, same_as = answer_classes(memo.book(book), norms, found)
    errors: list[str | None] = [None if cls is not None else memo.class_error(book, claim)
                                for claim, cls in zip(norms, classes)]
    return InformativenessRecord(task=claims.task, id=claims.id, classes=classes, same_as=same_as, errors=errors,
                                 judge=template.id, raw=raw, attempt=previous.attempt + 1 if previous else 1)
