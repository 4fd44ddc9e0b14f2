"""Stage 2: answer -> sentences -> verifiable, decontextualised claims (deduplicated).

Sentences come from spaCy's rule-based sentencizer (no model download), or its exact
shortcut for plain lines (factbench/stages/sentences.py). Claims are
extracted by the extractor judge for a *chunk* of consecutive sentences per call (default
30, so most answers take one call): every sentence still gets its own claim list (in order,
the compact format of the template) and keeps its index, and the judge sees the question,
the three sentences before the chunk and the one after it, so pronouns can be resolved. One
call per chunk instead of one per sentence cuts requests ~25x and sends the question and
instructions once per chunk; the shared system prefix keeps them cheap on a prefix-caching
server.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from factbench.judges.builtin import CLAIMS
from factbench.judges.judge import Judge
from factbench.judges.templates import SAME_SENTENCE, extraction_messages
from factbench.llm.client import LLMClient
from factbench.stages.base import JudgeRole, RunContext, Sample, Stage
from factbench.stages.generate import AnswerStage
from factbench.stages.grounding import split_grounded
from factbench.stages.sentences import split_line
from factbench.store.records import Claim, ClaimsRecord, Record

CONTEXT_BEFORE = 3
CONTEXT_AFTER = 1


class ClaimsOptions(BaseModel):
    """The claims stage's settings (`--sentences-per-call`)."""

    model_config = ConfigDict(frozen=True)

    sentences_per_call: PositiveInt = Field(default=30, description="answer sentences per claim-extraction call")


DEFAULT_SENTENCES_PER_CALL = ClaimsOptions().sentences_per_call
# Longer answers are decomposed up to this many sentences (a counted `answer_truncated` error):
# a 100,000-word answer would otherwise cost hundreds of judge calls for one sample.
MAX_SENTENCES = 400
NEAR_DUPLICATE_JACCARD = 0.8

_BULLET = re.compile(r"^\s*(?:[-*•+]|\d{1,3}[.)])\s+")
_HEADING = re.compile(r"^\s*#{1,6}\s+")
_ABSTAIN = re.compile(
    r"\b(?:i (?:could not|couldn't|cannot|can't|was unable to|am unable to|wasn't able to) find (?:any )?"
    r"(?:reliable |specific |relevant |public(?:ly available)? )?(?:information|details|records|data)"
    r"|i (?:do not|don't) have (?:any )?(?:reliable |specific |enough )?(?:information|details|knowledge)"
    r"|i(?:'m| am) (?:not (?:aware of|familiar with)|unable to provide|sorry, but i (?:can't|cannot))"
    r"|there (?:is|appears to be|seems to be) no (?:widely )?(?:known|available|recognized|recognised|"
    r"reliable|public(?:ly available)?) (?:information|public figure|person|record)"
    r"|(?:no|not enough) (?:reliable |publicly available )?information (?:is )?(?:available|about|on)"
    r"|my knowledge (?:cutoff|does not include))",
    re.IGNORECASE,
)
_WORD = re.compile(r"[a-z0-9]+")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def split_sentences(text: str) -> list[str]:
    """Sentences of an answer: lines first (lists and headings end a sentence), then spaCy's
    sentencizer (or its exact shortcut for plain lines, :mod:`factbench.stages.sentences`)."""
    out: list[str] = []
    lines = [ln for ln in text.splitlines() if ln.strip()]
    for line in lines:
        line = _HEADING.sub("", _BULLET.sub("", line)).strip().strip("*_").strip()
        if len(line) < 3:
            continue
        for sent in split_line(line):
            s = sent.strip()
            if len(s) >= 3:
                out.append(s)
    return out


def is_abstention(answer: str, sentences: list[str] | None = None) -> bool:
    """An answer that declines to answer: the abstention appears in its first two sentences."""
    sentences = split_sentences(answer) if sentences is None else sentences
    return bool(_ABSTAIN.search(" ".join(sentences[:2])))


def _normalise(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def merge_duplicates(claims: list[Claim]) -> tuple[list[Claim], int]:
    """Merge exact and near-duplicate claims (same numbers, token Jaccard >= 0.8); keep the first."""
    kept: list[Claim] = []
    signatures: list[tuple[str, frozenset[str], tuple[str, ...]]] = []
    merged = 0
    for claim in claims:
        norm = _normalise(claim.text)
        tokens = frozenset(norm.split())
        numbers = tuple(sorted(_NUMBER.findall(claim.text)))
        match = None
        for i, (n2, t2, num2) in enumerate(signatures):
            if norm == n2 or (numbers == num2 and tokens and t2 and
                              len(tokens & t2) / len(tokens | t2) >= NEAR_DUPLICATE_JACCARD):
                match = i
                break
        if match is None:
            kept.append(claim.model_copy())
            signatures.append((norm, tokens, numbers))
        else:
            kept[match].occurrences += claim.occurrences
            merged += 1
    return kept, merged


def chunks(n: int, size: int) -> list[range]:
    return [range(i, min(n, i + size)) for i in range(0, n, size)]


def spans_of(indices: list[int], size: int) -> list[range]:
    """Consecutive runs of sentence indices, each cut into chunks of at most `size`."""
    spans: list[range] = []
    run_start: int | None = None
    prev = -1
    for i in [*sorted(indices), None]:
        if run_start is not None and (i is None or i != prev + 1):
            spans += [range(r.start + run_start, r.stop + run_start) for r in chunks(prev + 1 - run_start, size)]
            run_start = None
        if run_start is None:
            run_start = i
        if i is not None:
            prev = i
    return spans


def needs_completion(record: ClaimsRecord, max_attempts: int) -> bool:
    """Sentences the judge's output did not cover, and attempts left to ask for them again."""
    return bool(record.missing_sentences) and record.attempt < max_attempts


async def extract_claims(client: LLMClient, task: str, sample_id: str, question: str, answer: str,
                         sentences_per_call: int = DEFAULT_SENTENCES_PER_CALL, judge: Judge = CLAIMS,
                         previous: ClaimsRecord | None = None) -> ClaimsRecord:
    """Claims of one answer. An abstention yields no call and no claim.

    With `previous` (a record with missing sentences), only those sentences are asked for; its
    claims are kept first, in order, so evidence and verdicts already aligned with them stay valid.
    """
    template = judge.template
    if previous is None:
        sentences = split_sentences(answer)
        truncated = len(sentences) > MAX_SENTENCES
        sentences = sentences[:MAX_SENTENCES]
        if not sentences or is_abstention(answer, sentences):
            return ClaimsRecord(task=task, id=sample_id, abstained=bool(sentences), sentences=sentences,
                                claims=[], extractor=template.id)
        todo = list(range(len(sentences)))
        kept, errors, raw = [], ["answer_truncated"] if truncated else [], []
    else:
        sentences, todo, kept = previous.sentences, previous.missing_sentences, previous.claims
        errors = [e for e in previous.errors if e == "answer_truncated"]  # the rest is retried now
        raw = list(previous.raw)
    spans = spans_of(todo, max(1, sentences_per_call))
    build = judge.messages or extraction_messages

    async def one(span: range):
        numbered = [(i + 1, sentences[i]) for i in span]
        ids = [n for n, _ in numbered]
        before = sentences[max(0, span.start - CONTEXT_BEFORE):span.start]
        after = sentences[span.stop:span.stop + CONTEXT_AFTER]
        completion = await client.complete(
            build(question, before, numbered, after, template), template=template.id,
            schema=template.schema,
            schema_name="claims", items=len(ids), accept=lambda c: len(judge.parse(c.text, ids)[0]) == len(ids))
        per_sentence, errs = judge.parse(completion.text, ids)
        if completion.finish_reason == "length" and errs:  # the sentences after the cut have no entry
            errs = ["truncated_output" if e in ("invalid_json", "missing_sentence") else e for e in errs]
        return numbered, completion.text, per_sentence, errs

    found: list[Claim] = []
    missing: list[int] = []
    # Chunks are independent: their calls go out together, results are kept in sentence order.
    for numbered, text, per_sentence, errs in await asyncio.gather(*(one(span) for span in spans)):
        raw.append(text)
        errors.extend(errs)
        for n, _ in numbered:
            if n not in per_sentence:
                missing.append(n - 1)
            found.extend(Claim(text=sentences[n - 1] if c == SAME_SENTENCE else c, sentence=n - 1)
                         for c in per_sentence.get(n, []))
    found, ungrounded = split_grounded(found, sentences, question)  # never verified nor credited
    claims, merged = merge_duplicates(list(kept) + found)  # earlier claims stay first and unchanged
    return ClaimsRecord(task=task, id=sample_id, abstained=False, sentences=sentences, claims=claims,
                        ungrounded=(list(previous.ungrounded) if previous else []) + ungrounded,
                        merged_duplicates=merged + (previous.merged_duplicates if previous else 0), errors=errors,
                        extractor=template.id, raw=raw, missing_sentences=missing,
                        attempt=previous.attempt + 1 if previous else 1)


EXTRACTOR = JudgeRole("extractor", "extractor", "override the judge for the extractor role", CLAIMS.name)


class ClaimsStage(Stage[ClaimsRecord]):
    name = "claims"
    record_type = ClaimsRecord
    order = 20
    reads = (AnswerStage,)
    roles = (EXTRACTOR,)
    options = ClaimsOptions
    role = "extractor"

    def done(self, ctx: RunContext, sample: Sample) -> bool:
        record = sample.get(ClaimsStage)
        return record is not None and not needs_completion(record, ctx.max_judge_attempts)

    def unparsed(self, record: Record, sample_records: dict[str, Record]) -> tuple[int, int, Counter[str]]:
        assert isinstance(record, ClaimsRecord)
        if record.abstained:
            return 0, 0, Counter()
        return len(record.sentences), len(record.missing_sentences), Counter(record.errors)

    async def produce(self, ctx: RunContext, sample: Sample) -> ClaimsRecord:
        answer = sample.need(AnswerStage)
        return await extract_claims(ctx.clients["extractor"], sample.task.name, sample.prompt.id, sample.prompt.text,
                                    answer.answer, ctx.sentences_per_call, judge=ctx.judges["extractor"],
                                    previous=sample.get(ClaimsStage))
