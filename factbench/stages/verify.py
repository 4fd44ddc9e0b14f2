"""Stage 4: verdicts. Every claim is judged on sentence excerpts of its own passages: the
sentences of its best EXCERPT_PASSAGES ranked passages that match it best, up to
CLAIM_EXCERPT_TOKENS and MAX_CLAIM_EXCERPTS (:mod:`factbench.evidence.excerpts`). So a claim's
label depends on the question, the claim and its own passages only, never on which claims share
its call: what lets a verdict be reused wherever the same claim comes back with the same passages.

An answer's claims are sent in as few groups as the evidence budget (`--evidence-tokens`)
allows: one group when the union of their excerpts fits; otherwise a group is filled excerpt by
excerpt, those serving the most claims first, a claim joining once all its excerpts are in, and
the claims left over form the next group (one group as soon as their excerpts fit). A group's
block holds each excerpt once (claims about one fact mostly share theirs); every claim names its
own after it ("3. ... [P1, P4]"), and the judge is told to use those alone. A group judged in one
call shows the question and its claims first, then the block (the informativeness call shares
that prefix); a group judged in several calls (sent together) shows the block first, so they
share it: either way a prefix-caching server prefills each part once.

Labels: supported / unsupported / unverifiable (ternary, default) or supported /
unsupported (binary). A claim whose label is missing or unknown gets no label and a
counted error kind; it is never scored.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, PositiveInt

from factbench.evidence.excerpts import Pool, choose_excerpts, near_repeat
from factbench.hashing import sha256_hex
from factbench.judges.builtin import VERIFY_TERNARY
from factbench.judges.judge import Judge
from factbench.judges.templates import verification_messages
from factbench.llm.client import LLMClient
from factbench.llm.memo import item_key, judge_once, memo_key, normalise_claim
from factbench.stages.base import JudgeRole, RunContext, Sample, Stage
from factbench.stages.claims import NEAR_DUPLICATE_JACCARD, ClaimsStage
from factbench.stages.evidence import EvidenceStage
from factbench.store.records import Claim, ClaimsRecord, EvidenceRecord, Passage, Record, VerdictsRecord


class VerdictsOptions(BaseModel):
    """The verdicts stage's settings (`--claims-per-call`, `--evidence-tokens`); the informativeness stage
    groups claims the same way, so its calls share the verdicts' prefixes."""

    model_config = ConfigDict(frozen=True)

    claims_per_call: PositiveInt = Field(default=30, description="claims per verification call")
    # per evidence block (one per answer, unless its claims' excerpts need more)
    evidence_tokens: PositiveInt = Field(default=2500, description="budget of an answer's evidence block, shared by its "
                                                           "verification calls")


DEFAULT_CLAIMS_PER_CALL = VerdictsOptions().claims_per_call
DEFAULT_EVIDENCE_TOKENS = VerdictsOptions().evidence_tokens
# A claim's excerpts: the sentences of its best EXCERPT_PASSAGES passages that match it best, the
# best always, then the next ones while within CLAIM_EXCERPT_TOKENS, at most MAX_CLAIM_EXCERPTS.
EXCERPT_PASSAGES = 10
CLAIM_EXCERPT_TOKENS = 80
MAX_CLAIM_EXCERPTS = 2
EXCERPT_CONTEXT = True  # a sentence that refers back starts one sentence earlier, where that fits
# The excerpt rule's version, part of every verdict's memo key: a changed rule never reuses a verdict.
EXCERPT_LAYOUT = "1"
# Whole passages (callers that give no claim texts): a claim's best, then the next while within
# CLAIM_EVIDENCE_TOKENS, at most MAX_CLAIM_PASSAGES.
CLAIM_EVIDENCE_TOKENS = 560
MAX_CLAIM_PASSAGES = 2
CHARS_PER_TOKEN = 4  # budget estimate without a tokenizer dependency
MAX_PASSAGE_TOKENS = 400


def approx_tokens(text: str) -> int:
    return len(text) // CHARS_PER_TOKEN + 1


def entry_tokens(title: str, text: str) -> int:
    """What one entry of the evidence block costs: its text, title and marker."""
    return approx_tokens(text) + approx_tokens(f"[P10] {title}: ") - 1


def passage_tokens(passage: Passage) -> int:
    """What a whole passage costs in the prompt: its text (at most MAX_PASSAGE_TOKENS), title and marker."""
    return min(approx_tokens(passage.text), MAX_PASSAGE_TOKENS) + approx_tokens(f"[P10] {passage.title}: ") - 1


_PUNCTUATION = str.maketrans({c: " " for c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"})


def _words(text: str) -> frozenset[str]:
    return frozenset(text.lower().translate(_PUNCTUATION).split())


def near_duplicate(words: frozenset[str], kept: list[frozenset[str]]) -> bool:
    """Token Jaccard with a passage already chosen at least the claims stage's threshold for claims."""
    return near_repeat(words, kept, NEAR_DUPLICATE_JACCARD)


Entry = tuple[str, str]  # (title, text): one entry of an evidence block


def claim_excerpts(claim: str, ranked: Sequence[int], passages: Sequence[Passage], allowance: int | None = None,
                   max_excerpts: int | None = None, max_passages: int | None = None,
                   pool: tuple[Pool, dict[int, int]] | None = None) -> list[Entry]:
    """A claim's excerpts, (title, sentence), most relevant first, from its best `max_passages`
    ranked passages alone (:func:`factbench.evidence.excerpts.choose_excerpts`); identical entries
    count once. `pool`: `passages` prepared together, with where each is in it (:func:`answer_pool`);
    without it (or one that lacks some of them), its own passages alone, which choose the same."""
    top = list(dict.fromkeys(ranked))[:EXCERPT_PASSAGES if max_passages is None else max_passages]
    if pool is not None and all(p in pool[1] for p in top):
        prepared, members = pool[0], tuple(map(pool[1].__getitem__, top))
    else:
        prepared, members = Pool.of(tuple((passages[p].title, passages[p].text) for p in top)), tuple(range(len(top)))
    return list(_excerpts(claim, prepared, members, CLAIM_EXCERPT_TOKENS if allowance is None else allowance,
                          MAX_CLAIM_EXCERPTS if max_excerpts is None else max_excerpts, EXCERPT_CONTEXT))


def answer_pool(per_claim: Sequence[Sequence[int]], passages: Sequence[Passage]) -> tuple[Pool, dict[int, int]]:
    """The passages some claim of an answer is excerpted from (its best EXCERPT_PASSAGES), prepared
    together once for all its claims (every claim ranks the same few topic pages), and where each
    passage is in the pool."""
    used = sorted({pid for ranked in per_claim for pid in list(dict.fromkeys(ranked))[:EXCERPT_PASSAGES]})
    return Pool.of(tuple((passages[pid].title, passages[pid].text) for pid in used)), \
        {pid: i for i, pid in enumerate(used)}


_CHOSEN: dict[tuple, tuple[Entry, ...]] = {}  # the verdicts, their memo keys and the informativeness calls ask alike


def _excerpts(claim: str, pool: Pool, members: tuple[int, ...], allowance: int, max_excerpts: int,
              context: bool) -> tuple[Entry, ...]:
    key = (claim, tuple(map(pool.entries.__getitem__, members)), allowance, max_excerpts, context)
    found = _CHOSEN.get(key)
    if found is None:
        titles, texts = pool.entries, pool.texts

        def cost(g: int) -> int:
            return entry_tokens(titles[pool.owner[g]][0], texts[g])

        def context_cost(g: int) -> int:
            return approx_tokens(texts[g])

        chosen = choose_excerpts(claim, pool, members, cost, allowance, max_excerpts, repeat_threshold=1.0,
                                 context_cost=context_cost if context else None)
        if len(_CHOSEN) >= 8192:
            _CHOSEN.clear()
        found = _CHOSEN[key] = tuple(dict.fromkeys(
            (titles[pool.owner[a]][0], " ".join(texts[a:b])) for a, b in chosen))
    return found


def claim_evidence(ranked: list[int], passages: list[Passage], allowance: int | None = None,
                   max_passages: int | None = None,
                   words: Callable[[int], frozenset[str]] | None = None) -> list[int]:
    """A claim's own whole passages, from its ranked list alone: its best, then each next one that
    fits the allowance (tokens) and does not nearly repeat one already chosen (search results often
    quote one source on several sites), at most `max_passages`."""
    allowance = CLAIM_EVIDENCE_TOKENS if allowance is None else allowance
    max_passages = MAX_CLAIM_PASSAGES if max_passages is None else max_passages
    words_of = words or (lambda i: _words(passages[i].text))
    chosen: list[int] = []
    kept: list[frozenset[str]] = []
    used = 0
    for pid in ranked:
        if len(chosen) >= max_passages:
            break
        cost = passage_tokens(passages[pid])
        if chosen and (used + cost > allowance or pid in chosen):
            continue
        w = words_of(pid)
        if chosen and near_duplicate(w, kept):
            continue
        chosen.append(pid)
        kept.append(w)
        used += cost
    return chosen


Unit = TypeVar("Unit", bound=Hashable)


def claim_groups(own: list[list[Unit]], cost: Callable[[Unit], int], budget_tokens: int) -> list[list[int]]:
    """Claims (positions in `own`, each claim's own evidence units: excerpts or passages) in groups
    whose units fit the budget (`cost` in tokens): one group when they all fit; otherwise units are
    taken by how many of the claims left they serve, most first, a claim joining once all its units
    are in; the claims left over are grouped the same way. A claim whose units alone exceed the
    budget is a group."""
    price = {u: cost(u) for ids in own for u in ids}
    groups: list[list[int]] = []
    left = list(range(len(own)))
    while left:
        if sum(price[u] for u in {u for k in left for u in own[k]}) <= budget_tokens:
            groups.append(left)
            break
        serves = Counter(u for k in left for u in own[k])
        block: set[Unit] = set()
        used = 0
        members = {k for k in left if not own[k]}  # nothing retrieved: free in any group
        for u in sorted(serves, key=lambda q: -serves[q]):  # stable: ties in order of first use
            for k in left:
                if k in members or u not in own[k]:
                    continue
                extra = [q for q in own[k] if q not in block]
                if used + sum(price[q] for q in extra) <= budget_tokens:
                    block.update(extra)
                    used += sum(price[q] for q in extra)
                    members.add(k)
        if len(members) == sum(1 for k in left if not own[k]):  # no claim fits: the first alone
            members.add(next(k for k in left if own[k]))
        groups.append(sorted(members))
        left = [k for k in left if k not in members]
    return groups


def batches(group: range, size: int) -> list[range]:
    """`group` in calls of at most `size` claims, as even as possible."""
    n = max(1, -(-len(group) // max(1, size)))
    bounds = [group.start + len(group) * k // n for k in range(n + 1)]
    return [range(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]


@dataclass(frozen=True)
class VerificationCall:
    claims: list[int]  # answer indices, in order
    passages: list[tuple[str, str]]  # the evidence block, (title, text) entries (empty: knowledge-only)
    passages_first: bool  # the block is shared by several calls of its group: it goes first
    refs: list[list[int]] | None = None  # per claim, its own entries (1-based in `passages`); None: no evidence


def _excerpt(p: Passage) -> tuple[str, str]:
    text = p.text if approx_tokens(p.text) <= MAX_PASSAGE_TOKENS else p.text[: MAX_PASSAGE_TOKENS * CHARS_PER_TOKEN]
    return p.title, text


def shown_evidence(todo: list[int], evidence: EvidenceRecord | None, claims: Sequence[str] | None) -> list[list[Entry]]:
    """What each claim of `todo` (answer indices) is judged on, (title, text) entries: the
    excerpts of its own ranked passages (`claims`: the answer's claim texts), or without the texts
    its own whole passages (:func:`claim_evidence`)."""
    per_claim, passages = (evidence.per_claim, evidence.passages) if evidence is not None else ([], [])
    ranked = [per_claim[i] if i < len(per_claim) else [] for i in todo]
    if claims is not None:
        pool = answer_pool(per_claim, passages)
        return [claim_excerpts(claims[i], r, passages, pool=pool) for i, r in zip(todo, ranked)]
    cache: dict[int, frozenset[str]] = {}

    def words(i: int) -> frozenset[str]:
        w = cache.get(i)
        if w is None:
            w = cache[i] = _words(passages[i].text)
        return w

    return [[_excerpt(passages[p]) for p in claim_evidence(r, passages, words=words)] for r in ranked]


def verification_calls(todo: list[int], evidence: EvidenceRecord | None, uses_evidence: bool, claims_per_call: int,
                       evidence_tokens: int, claims: Sequence[str] | None = None) -> list[VerificationCall]:
    """The calls that judge the claims `todo` (answer indices, in order): each claim with what it
    is shown (:func:`shown_evidence`; `claims`, the answer's claim texts, selects excerpts), the
    claims grouped under the budget (:func:`claim_groups`). A group whose claims fit one call puts
    its claims first and the block last: the informativeness call about the same claims then
    shares everything up to the block. A group that needs several calls puts the block first:
    those calls share it."""
    if not uses_evidence:
        return [VerificationCall(todo[p.start:p.stop], [], False) for p in batches(range(len(todo)), claims_per_call)] \
            if todo else []
    own = shown_evidence(todo, evidence, claims)
    calls = []
    for group in claim_groups(own, lambda e: entry_tokens(*e), evidence_tokens):
        used = list(dict.fromkeys(e for k in group for e in own[k]))  # in order of first use
        titles = {title: n for n, title in enumerate(dict.fromkeys(title for title, _ in used))}
        pooled = sorted(used, key=lambda e: titles[e[0]])  # stable: a source's entries together, its title said once
        block = {e: n for n, e in enumerate(pooled, start=1)}  # entry -> its number in the block
        if not pooled:  # nothing retrieved: say so, not an empty block
            pooled = [("", "(no evidence was found for these claims)")]
        parts = batches(range(len(group)), claims_per_call)
        for part in parts:
            members = [group[j] for j in part]
            calls.append(VerificationCall([todo[k] for k in members], pooled, len(parts) > 1,
                                          [[block[e] for e in own[k]] for k in members]))
    return calls


def takes(fn: Callable[..., object], keywords: dict[str, object]) -> dict[str, object]:
    """The `keywords` that `fn` accepts (all of them when it takes **kwargs): a layout written before
    a keyword existed keeps working."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # no signature to read: pass none of them
        return {}
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return keywords
    return {k: v for k, v in keywords.items() if k in params}


def needs_completion(record: VerdictsRecord, n_claims: int, max_attempts: int) -> bool:
    """Claims never judged (added when the claims were completed), or claims whose label did not
    parse (unknown word, missing, truncated) with attempts left."""
    if len(record.labels) < n_claims:
        return True
    return any(label is None for label in record.labels) and record.attempt < max_attempts


def carried_verdicts(previous: VerdictsRecord | None, n: int) -> tuple[list[str | None], list[str | None], list[str]]:
    """Labels, error kinds and raw outputs for `n` claims, with those of `previous` kept (the
    claims it left without a label, and claims added since, are still to judge)."""
    labels: list[str | None] = [None] * n
    errors: list[str | None] = ["missing_label"] * n
    raw: list[str] = []
    if previous is not None:
        labels[:len(previous.labels)] = previous.labels[:n]
        errors[:len(previous.errors)] = previous.errors[:n]
        raw = list(previous.raw)
    return labels, errors, raw


async def verify_claims(client: LLMClient, claims: ClaimsRecord, evidence: EvidenceRecord | None, *,
                        judge: Judge, uses_evidence: bool = True,
                        claims_per_call: int = DEFAULT_CLAIMS_PER_CALL,
                        evidence_tokens: int = DEFAULT_EVIDENCE_TOKENS, question: str = "",
                        previous: VerdictsRecord | None = None, questions: list[str] | None = None) -> VerdictsRecord:
    """Labels for the claims of one answer. With `previous`, only its claims without a label are
    judged again (batched among themselves); its labels are kept. `questions` (one per claim)
    judges claims of several questions together, each under its own."""
    template = judge.template_for(uses_evidence)
    mode = judge.mode or "ternary"
    n = len(claims.claims)
    labels, errors, raw = carried_verdicts(previous, n)
    todo = [i for i in range(n) if labels[i] is None]

    async def one(call: VerificationCall):
        batch = call.claims
        texts = [claims.claims[i].text for i in batch]
        if judge.messages is None:  # the built-in layout names each claim's own passages
            messages = verification_messages(template, call.passages, texts, question, refs=call.refs,
                                             passages_first=call.passages_first, numbers=[i + 1 for i in batch],
                                             questions=[questions[i] for i in batch] if questions else None)
        else:  # a plug-in's layout: each claim's entries and numbers too, where it takes them
            extra: dict[str, object] = {"refs": call.refs, "numbers": [i + 1 for i in batch]}
            messages = judge.messages(template, call.passages, texts, question, first=batch[0] + 1,
                                      passages_first=call.passages_first, **takes(judge.messages, extra))
        completion = await client.complete(
            messages, template=template.id, schema=template.schema, schema_name="verdicts", items=len(texts),
            accept=lambda c: all(e is None for e in judge.parse(c.text, len(texts), mode)[1]))
        got, errs = judge.parse(completion.text, len(texts), mode)
        if completion.finish_reason == "length":
            errs = [("truncated_output" if e else e) for e in errs]
        return batch, completion.text, got, errs

    texts = [c.text for c in claims.claims]
    calls = [one(call) for call in verification_calls(todo, evidence, uses_evidence, claims_per_call, evidence_tokens,
                                                      claims=texts)]
    # All calls of an answer go out together (those of a group share their evidence prefix);
    # results are kept in claim order.
    for batch, text, got, errs in await asyncio.gather(*calls):
        raw.append(text)
        for i, label, err in zip(batch, got, errs):
            labels[i], errors[i] = label, err
    backend = evidence.backend if evidence is not None else "none"
    return VerdictsRecord(task=claims.task, id=claims.id, labels=labels, errors=errors, verifier=template.id,
                          evidence_backend=backend, raw=raw, attempt=previous.attempt + 1 if previous else 1)


VERIFIER = JudgeRole("verifier", "verifier", "override the judge for the verifier role", VERIFY_TERNARY.name)


class VerdictsStage(Stage[VerdictsRecord]):
    name = "verdicts"
    record_type = VerdictsRecord
    order = 40
    reads = (ClaimsStage, EvidenceStage)
    roles = (VERIFIER,)
    options = VerdictsOptions
    role = "verifier"

    def done(self, ctx: RunContext, sample: Sample) -> bool:
        record, claims = sample.get(VerdictsStage), sample.get(ClaimsStage)
        n_claims = len(claims.claims) if claims is not None else 0
        return record is not None and not needs_completion(record, n_claims, ctx.max_judge_attempts)

    def unparsed(self, record: Record, sample_records: dict[str, Record]) -> tuple[int, int, Counter[str]]:
        assert isinstance(record, VerdictsRecord)
        claims = sample_records.get(ClaimsStage.name)
        n = len(claims.claims) if isinstance(claims, ClaimsRecord) else len(record.labels)
        return n, n - sum(1 for lab in record.labels[:n] if lab), Counter(e for e in record.errors if e)

    async def produce(self, ctx: RunContext, sample: Sample) -> VerdictsRecord:
        claims, evidence, previous = sample.need(ClaimsStage), sample.get(EvidenceStage), sample.get(VerdictsStage)
        judge, uses_evidence = ctx.judges["verifier"], sample.evidence.uses_evidence

        async def verify(before: VerdictsRecord | None) -> VerdictsRecord:
            return await verify_claims(ctx.clients["verifier"], claims, evidence, judge=judge,
                                       uses_evidence=uses_evidence, claims_per_call=ctx.claims_per_call,
                                       evidence_tokens=ctx.evidence_tokens, question=sample.prompt.text,
                                       previous=before)

        if ctx.memo is None:
            return await verify(previous)
        memo = ctx.memo
        # Claims another answer already judged (stored, or being judged now) take that verdict;
        # only the others go to the judge, and their parsed labels are stored for the next ones.
        n = len(claims.claims)
        labels, errors, raw = carried_verdicts(previous, n)
        keys = verdict_keys(ctx, sample, claims, evidence, [i for i in range(n) if labels[i] is None])
        template = judge.template_for(uses_evidence)
        backend = evidence.backend if evidence is not None else "none"

        def record(labels_now: list[str | None], errors_now: list[str | None], attempt: int) -> VerdictsRecord:
            return VerdictsRecord(task=claims.task, id=claims.id, labels=labels_now, errors=errors_now,
                                  verifier=template.id, evidence_backend=backend, raw=raw, attempt=attempt)

        async def judge_these(indices: list[int]) -> dict[int, dict[str, str] | None]:
            nonlocal raw

            per_claim = evidence.per_claim if evidence is not None and uses_evidence else []
            found = evidence.passages if evidence is not None else []
            items = [(sample.prompt.text, claims.claims[i].text,
                      [found[j] for j in per_claim[i]] if i < len(per_claim) else []) for i in indices]
            jointly = functools.partial(verify_jointly, ctx, sample, claims, evidence)

            async def alone() -> list[tuple[str | None, str | None, list[str]]]:
                nonlocal raw
                if set(indices) != {i for i, lab in enumerate(labels) if lab is None}:
                    return await jointly(items)  # some claims came from the memo: these alone, numbered from 1
                done = await verify(record(list(labels), list(errors), 0))  # the call made without the memo
                raw = done.raw
                return [(done.labels[i], done.errors[i], []) for i in indices]

            results = await memo.together(memo_key("verdict-group", group), items, alone, jointly)
            for i, (label, error, texts) in zip(indices, results):
                labels[i], errors[i] = label, error
                raw += [t for t in texts if t not in raw]
            return {i: {"label": label} if (label := labels[i]) is not None else None for i in indices}

        # Answers to other questions pending within the window share the call too (a plug-in
        # layout takes one question: then only answers to the same question do).
        group = {k: v for k, v in verdict_key_base(ctx, sample, evidence).items()
                 if k != "question" or judge.messages is not None}
        values = await judge_once(memo, "verdicts", keys, judge_these)
        for i, value in values.items():
            if value is not None:
                labels[i], errors[i] = value["label"], None
        return record(labels, errors, previous.attempt + 1 if previous else 1)


def verdict_key_base(ctx: RunContext, sample: Sample, evidence: EvidenceRecord | None) -> dict:
    """What a verdict depends on besides the claim and its passages."""
    judge, uses_evidence = ctx.judges["verifier"], sample.evidence.uses_evidence
    return {"judge": ctx.clients["verifier"].spec.identity(), "template": judge.id_for(uses_evidence),
            "mode": judge.mode or "ternary", "question": sample.prompt.text,
            "evidence": (evidence.backend if evidence is not None else sample.evidence.name) if uses_evidence else "none",
            "evidence_tokens": ctx.evidence_tokens if uses_evidence else 0,
            "excerpts": EXCERPT_LAYOUT if uses_evidence else "none"}


async def verify_jointly(ctx: RunContext, sample: Sample, claims: ClaimsRecord, evidence: EvidenceRecord | None,
                         items: list[tuple[str, str, list[Passage]]]) -> list[tuple[str | None, str | None, list[str]]]:
    """Claims of several answers (question, text, own passages) judged together, as if they were
    one answer's, each under its question: (label, error kind, the calls' raw outputs) per claim."""
    first_seen: dict[str, int] = {}
    for question, _, _ in items:
        first_seen.setdefault(question, len(first_seen))
    order = sorted(range(len(items)), key=lambda k: first_seen[items[k][0]])  # a question's claims together
    ordered = [items[k] for k in order]
    passages: list[Passage] = []
    at: dict[tuple[str, str], int] = {}
    per_claim = []
    for _, _, own in ordered:
        ids = []
        for p in own:
            ids.append(at.setdefault((p.title, p.text), len(passages)))
            if ids[-1] == len(passages):
                passages.append(p)
        per_claim.append(ids)
    joint = ClaimsRecord(task=claims.task, id=claims.id, abstained=False, sentences=[], extractor=claims.extractor,
                         claims=[Claim(text=text, sentence=0) for _, text, _ in ordered])
    pooled = None if evidence is None else EvidenceRecord(task=claims.task, id=claims.id, backend=evidence.backend,
                                                          passages=passages, per_claim=per_claim)
    questions = [question for question, _, _ in ordered]
    done = await verify_claims(ctx.clients["verifier"], joint, pooled, judge=ctx.judges["verifier"],
                               uses_evidence=sample.evidence.uses_evidence, claims_per_call=ctx.claims_per_call,
                               evidence_tokens=ctx.evidence_tokens, question=questions[0] if questions else "",
                               questions=questions if len(first_seen) > 1 else None)
    results: list[tuple[str | None, str | None, list[str]]] = [(None, None, [])] * len(items)
    for k, label, error in zip(order, done.labels, done.errors):
        results[k] = (label, error, done.raw)
    return results


def verdict_keys(ctx: RunContext, sample: Sample, claims: ClaimsRecord, evidence: EvidenceRecord | None,
                 todo: list[int]) -> dict[int, str]:
    """The memo key of each claim in `todo`: the verifier's identity (model and decoding, template
    and parser, label set), the evidence backend and budget, the excerpt rule's version, the
    question, the normalised claim, and what the claim is shown (its excerpts, title and text, in
    order)."""
    base, uses_evidence = memo_key("verdict", verdict_key_base(ctx, sample, evidence)), sample.evidence.uses_evidence
    shown = shown_evidence(todo, evidence, [c.text for c in claims.claims]) if uses_evidence else [[] for _ in todo]
    return {i: item_key(base, normalise_claim(claims.claims[i].text), *(sha256_hex(list(e), 24) for e in entries))
            for i, entries in zip(todo, shown)}
