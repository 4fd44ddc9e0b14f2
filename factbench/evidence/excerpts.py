"""Sentence-level excerpts: the few sentences of a claim's own passages that bear on it.

A judge reading a whole 250-token passage to check a 12-word claim spends most of its prefill on
sentences about other facts. A claim is therefore shown the sentences of its top-ranked passages
that best match it: every sentence of those passages is scored against the claim with BM25
(document frequencies taken over those sentences alone), and the best are kept, most relevant
first, while they fit a small token allowance; a sentence that nearly repeats one already kept
(search results quote one source on several sites) is skipped. What is chosen depends on the
claim and its own ranked passages only, so a claim's evidence is the same in any call.

The claims of an answer rank the same few passages (its evidence record's), so those are prepared
once, together (:class:`Pool`): each sentence is a bit of pool-wide masks, and a claim's counting,
document frequencies and which sentences to score are integer operations on masks.

Sentences are split on end punctuation followed by a capital, digit or quote; abbreviations and
initials ("Dr.", "St.", "J. S. Bach") do not end a sentence. A sentence longer than
MAX_SENTENCE_CHARS is cut into pieces at word boundaries, so one run-on passage cannot use a
claim's whole allowance.
"""

from __future__ import annotations

import functools
import math
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Sequence
from itertools import chain, compress
from typing import NamedTuple

from factbench.evidence.index_text import TOKEN, index_term

MAX_SENTENCE_CHARS = 320  # ~80 tokens
_BOUNDARY = re.compile(r"[.!?][\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st jr sr gen col lt sgt capt cpt mt ft no vs etc inc ltd co corp dept univ est approx ca "
    "jan feb mar apr jun jul aug sep sept oct nov dec rev hon gov sen rep".split())
_K1, _B = 1.2, 0.75
_LIFTED, _FLAT = _K1 + 1, 1 - _B


def split_sentences(text: str) -> list[str]:
    """`text` as sentences (whitespace-trimmed, none empty), over-long ones in word-bounded pieces."""
    out: list[str] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        before = text[:m.start()].rsplit(None, 1)  # [] when only whitespace comes before
        word = before[-1].lstrip("\"'([") if before else ""
        if len(word) == 1 and word.isalpha() or word.lower().rstrip(".") in _ABBREVIATIONS or "." in word:
            continue  # an initial ("J."), an abbreviation ("Dr."), or a dotted one ("U.S.", "e.g.")
        out.append(text[start:m.end()].strip())
        start = m.end()
    out.append(text[start:].strip())
    out = [sentence for sentence in out if sentence]
    if max(map(len, out), default=0) <= MAX_SENTENCE_CHARS:
        return out
    return [piece for sentence in out for piece in _pieces(sentence)]


def _pieces(sentence: str) -> list[str]:
    if len(sentence) <= MAX_SENTENCE_CHARS:
        return [sentence]
    pieces, current = [], ""
    for word in sentence.split():
        if current and len(current) + 1 + len(word) > MAX_SENTENCE_CHARS:
            pieces.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    return pieces + [current] if current else pieces


_TERM_OF: dict[str, str | None] = {}  # token -> index term, memoised (index_term is per token)
# ASCII text's tokens without the regex: every ASCII character that is not a word character
# (letter, digit, underscore: what TOKEN's \w matches there) becomes a space
_NOT_WORD = str.maketrans({c: " " for c in map(chr, range(128)) if not (c.isalnum() or c == "_")})


def terms(text: str) -> list[str]:
    """The index terms of `text` with repeats (the corpus index's rules: lower case, stopwords out, plurals folded)."""
    memo = _TERM_OF
    low = text.lower()
    tokens = low.translate(_NOT_WORD).split() if low.isascii() else TOKEN.findall(low)
    try:
        return list(filter(None, map(memo.__getitem__, tokens)))  # no index term is empty
    except KeyError:
        if len(memo) > 200_000:
            memo.clear()
        for t in tokens:
            if t not in memo:
                memo[t] = index_term(t)
        return list(filter(None, map(memo.__getitem__, tokens)))


Analysis = tuple[int, frozenset[str], dict[str, int] | None]
_ANALYSIS_OF: dict[str, Analysis] = {}  # sentence -> its analysis, memoised


def analysed(sentence: str) -> Analysis:
    """A sentence's length in terms, its set of terms, and how often it says each term it says
    more than once (None when none); memoised, since one sentence comes back in many passages (a
    source quoted on several sites, a page's stock phrases)."""
    found = _ANALYSIS_OF.get(sentence)
    if found is None:
        if len(_ANALYSIS_OF) > 100_000:
            _ANALYSIS_OF.clear()
        said = terms(sentence)
        words = frozenset(said)
        again = None if len(words) == len(said) else {t: tf for t, tf in Counter(said).items() if tf > 1}
        found = _ANALYSIS_OF[sentence] = (len(said), words, again)
    return found


_INDICES: dict[int, tuple[int, ...]] = {}  # bit mask -> the positions of its set bits, memoised
_DIGIT_BITS = bytes.maketrans(b"01", b"\x00\x01")


def indices(mask: int) -> tuple[int, ...]:
    """The positions of the set bits of `mask`, in order."""
    found = _INDICES.get(mask)
    if found is None:
        if len(_INDICES) > 20_000:
            _INDICES.clear()
        if mask.bit_count() > 8:  # its binary digits, lowest first, as 0/1 bytes: the positions of the ones
            digits = bin(mask)[:1:-1].encode().translate(_DIGIT_BITS)
            found = tuple(compress(range(len(digits)), digits))
        else:
            places = []
            rest = mask
            while rest:
                low = rest & -rest
                places.append(low.bit_length() - 1)
                rest ^= low
            found = tuple(places)
        _INDICES[mask] = found
    return found


class _Text(NamedTuple):
    """One passage's text split for excerpting (sentence k is bit 1 << k of its masks)."""

    texts: tuple[str, ...]
    words: list[frozenset[str]]  # each sentence's set of terms
    lengths: list[int]  # each sentence's length in terms
    again: list[tuple[int, str, int]]  # (sentence, term, how often) where a sentence says a term more than once
    first: dict[str, int]  # each distinct sentence -> where it first appears
    repeats: int  # the sentences that repeat an earlier one


@functools.lru_cache(maxsize=4096)  # one text comes back under several titles and in several answers
def _text(text: str) -> _Text:
    texts = tuple(split_sentences(text))
    words: list[frozenset[str]] = []
    lengths: list[int] = []
    again: list[tuple[int, str, int]] = []
    first: dict[str, int] = {}
    repeats = 0
    for k, sentence in enumerate(texts):
        n, said, tfs = analysed(sentence)
        words.append(said)
        lengths.append(n)
        if tfs:
            again += [(k, t, tf) for t, tf in tfs.items()]
        if sentence in first:
            repeats |= 1 << k
        else:
            first[sentence] = k
    return _Text(texts, words, lengths, again, first, repeats)


@functools.lru_cache(maxsize=4096)  # one set per title: a claim matches each title once
def _title_terms(title: str) -> frozenset[str]:
    return frozenset(terms(title))


Entry = tuple[str, str]  # (title, text): one passage


class Pool:
    """Passages prepared together for excerpting: those of one evidence record, which every claim
    of an answer ranks (a topic page's passages, in another order per claim). Each sentence of
    every passage is one bit of pool-wide masks (passage i's sentence k is bit starts[i] + k), so
    a claim's work over its own passages is integer operations on masks: which sentences count
    (:meth:`live`), which say a term (`postings`), which are under a title that has a term
    (`titled`); counting them is `mask.bit_count()`. The sentences said in several passages (a
    source quoted on several sites, one text under several titles) are numbered: per passage,
    `shared` has the bits of the numbers of those it says, `places` maps each number to its
    sentence's bit there and length, and `quoted` has all those bits. A pool is a cache only:
    what a claim is shown depends on its own passages alone."""

    __slots__ = ("entries", "starts", "spans", "counted", "sizes", "texts", "words", "owner", "lengths", "scaled",
                 "postings", "counts", "titled", "titles", "by_title", "vocabulary", "shared", "places", "quoted",
                 "quoted_size")

    def __init__(self, entries: Sequence[Entry]):
        self.entries = tuple(entries)
        self.starts: list[int] = []  # per passage, its first sentence's position; and, last, the number of sentences
        self.spans: list[int] = []  # per passage, the mask of its sentences
        self.counted: list[int] = []  # per passage, its sentences less those repeating an earlier one of it
        self.texts: list[str] = []
        self.words: list[frozenset[str]] = []
        self.owner: list[int] = []  # sentence -> its passage
        self.lengths: list[int] = []
        self.postings: dict[str, int] = {}
        self.counts: dict[str, dict[int, int]] = {}  # term -> {sentence: how often, where more than once}
        self.titled: dict[str, int] = {}  # term -> the sentences under a title that has it
        self.titles: list[frozenset[str]] = []  # per passage, its title's terms
        self.by_title: dict[frozenset[str], int] = {}  # a title's terms -> the sentences under such a title
        self.sizes: list[int] = []  # per passage, the total length of its distinct sentences
        postings, counts, titled, by_title = self.postings, self.counts, self.titled, self.by_title
        prepared = [_text(text) for _, text in self.entries]
        where: dict[str, int] = {}  # each distinct sentence -> where the passages say it
        base = 0
        for i, ((title, _), p) in enumerate(zip(self.entries, prepared)):
            n = len(p.texts)
            span = ((1 << n) - 1) << base
            bit = 1 << base
            for sentence in p.texts:
                where[sentence] = where.get(sentence, 0) | bit
                bit <<= 1
            for k, t, tf in p.again:
                counts.setdefault(t, {})[base + k] = tf
            named = _title_terms(title)
            for t in named:
                titled[t] = titled.get(t, 0) | span
            by_title[named] = by_title.get(named, 0) | span
            self.titles.append(named)
            self.texts += p.texts
            self.words += p.words
            self.lengths += p.lengths
            self.owner += [i] * n
            self.starts.append(base)
            self.spans.append(span)
            self.counted.append(span & ~(p.repeats << base))
            self.sizes.append(sum(p.lengths[k] for k in p.first.values()))
            base += n
        self.starts.append(base)  # one more: where the next passage would start
        self.scaled = [_B * n for n in self.lengths]
        words_of = dict(zip(self.texts, self.words))
        for sentence, bits in where.items():  # a sentence quoted in several passages is read once
            for t in words_of[sentence]:
                postings[t] = postings.get(t, 0) | bits
        self.vocabulary = frozenset(postings).union(titled)
        held_by = Counter(chain.from_iterable(p.first for p in prepared))
        number = {sentence: j for j, sentence in enumerate(s for s, c in held_by.items() if c > 1)}
        self.shared: list[int] = []
        self.places: list[dict[int, tuple[int, int]]] = []  # per passage: a shared sentence's number -> (its bit, length)
        self.quoted: list[int] = []  # per passage, the mask of its shared sentences
        self.quoted_size: list[int] = []  # per passage, their total length
        for p, base in zip(prepared, self.starts):  # (the last start, past the passages, is left out)
            places = {number[s]: (1 << base + k, p.lengths[k]) for s, k in p.first.items() if s in number} \
                if number else {}
            self.shared.append(sum(1 << j for j in places))
            self.places.append(places)
            self.quoted.append(sum(bit for bit, _ in places.values()))
            self.quoted_size.append(sum(n for _, n in places.values()))

    @staticmethod
    @functools.lru_cache(maxsize=128)  # an answer's claims, its verdicts' memo keys and its informativeness ask alike
    def of(entries: tuple[Entry, ...]) -> Pool:
        return Pool(entries)

    def live(self, members: Sequence[int]) -> tuple[int, int]:
        """The sentences of `members` (passages, best-ranked first) that count, each distinct
        sentence once, where it first appears; and their total length in terms."""
        live = seen = size = 0
        counted, sizes, shared = self.counted, self.sizes, self.shared
        for i in members:
            mask = counted[i]
            size += sizes[i]
            own = shared[i]
            if own:
                again = own & seen
                if again == own:
                    mask &= ~self.quoted[i]
                    size -= self.quoted_size[i]
                elif again:
                    places = self.places[i]
                    for j in indices(again):
                        bit, n = places[j]
                        mask &= ~bit
                        size -= n
                seen |= own
            live |= mask
        return live, size


def near_repeat(words: frozenset[str], kept: Sequence[frozenset[str]], threshold: float) -> bool:
    """Term Jaccard with a kept text of at least `threshold`."""
    n = len(words)
    for other in kept:
        m = len(other)
        if min(n, m) < threshold * max(n, m):  # sizes alone rule it out
            continue
        shared = len(words & other)
        if shared >= threshold * (n + m - shared):
            return True
    return False


def rank_sentences(query: frozenset[str], pool: Pool, members: Sequence[int]) -> list[int]:
    """The sentences (pool positions) of `members` (passages of `pool`, best-ranked first) that
    share a term of their own with the claim (`query`, its terms), best first: BM25 over the
    sentences of these passages that count (:meth:`Pool.live`), where a page's title counts in each
    of its sentences (a page names its subject once, then says "she", so the subject's name does
    not outweigh the detail that tells its sentences apart): a title's term is in every sentence of
    its page for the document frequency, and a sentence gets each of its title's terms of the
    claim that it does not say itself, added last. Terms are summed in sorted order (float sums,
    hence ties, the same under any hash seed); ties go to the better-ranked passage, then the
    earlier sentence."""
    live, size = pool.live(members)
    if not live:
        return []
    n = live.bit_count()
    average = max(1.0, size / n)
    postings, titled, counts = pool.postings, pool.titled, pool.counts
    idf: dict[str, float] = {}
    said: list[tuple[str, int]] = []
    touched = 0
    for t in sorted(query & pool.vocabulary):
        saying = postings.get(t, 0)
        mask = saying & live
        under = titled.get(t)
        f = (live & (saying | under)).bit_count() if under else mask.bit_count()
        if f:
            idf[t] = math.log(1 + (n - f + 0.5) / (f + 0.5))
        if mask:
            said.append((t, mask))
            touched |= mask
    if not touched:
        return []
    every = _INDICES.get(touched) or indices(touched)  # in pool order: a passage's are a run of them
    scaled = pool.scaled
    # BM25's length norm plus one: a term said once divides by it
    once = {g: 1 + _K1 * (_FLAT + scaled[g] / average) for g in every}
    # each sentence's score summed as its negative (the same float, but for the sign), so the
    # sentences sort best first by it
    scores = dict.fromkeys(every, 0.0)
    for t, mask in said:
        w = idf[t]
        weight = w * _LIFTED
        tfs = counts.get(t)
        if tfs is None:
            for g in _INDICES.get(mask) or indices(mask):
                scores[g] -= weight / once[g]
        else:
            for g in indices(mask):
                tf = tfs.get(g)
                if tf is None:
                    scores[g] -= weight / once[g]
                else:
                    scores[g] -= w * tf * _LIFTED / (tf + _K1 * (_FLAT + scaled[g] / average))
    ids: list[int] = []
    by_title: dict[frozenset[str], int] = {}  # a title with a term of the claim -> its sentences here
    titles, starts, spans = pool.titles, pool.starts, pool.spans
    for i in members:
        first = bisect_left(every, starts[i])
        end = bisect_left(every, starts[i + 1], first)
        if first < end:
            ids += every[first:end]
            title = titles[i]
            if title in by_title:
                by_title[title] |= touched & spans[i]
            elif title & query:
                by_title[title] = touched & spans[i]
    for title, sentences in by_title.items():
        _add_title(scores, once, sentences, sorted(title & query), postings, idf)
    ids.sort(key=scores.__getitem__)  # stable: ties go to the better-ranked passage, then the earlier sentence
    return ids


def _add_title(scores: dict[int, float], once: dict[int, float], sentences: int, named: list[str], postings: dict[str, int],
               idf: dict[str, float]) -> None:
    """Takes from each of `sentences` (negated scores, one title's) the idf of the title's terms of
    the claim (`named`, in order) it does not say itself, BM25-weighted as a term said once;
    reckoned once for each group of sentences that say the same of those terms."""
    groups = [(sentences, 0.0)]
    for t in named:
        saying, w = postings.get(t, 0), idf[t]
        groups = [part for mask, extra in groups
                  for part in ((mask & saying, extra), (mask & ~saying, extra + w)) if part[0]]
    for mask, extra in groups:
        if extra:
            extra *= _LIFTED
            for g in _INDICES.get(mask) or indices(mask):
                scores[g] -= extra / once[g]


def refers_back(sentence: str) -> bool:
    """Whether a sentence leans on the one before it: a pronoun among its first words ("In 1983 he
    joined ...") or an opening that points back ("This", "The latter")."""
    first = sentence.split(None, 4)[:4]
    words = [w.strip(",;:\"'()").lower() for w in first]
    return any(w in _PRONOUNS for w in words) or (bool(words) and words[0] in _POINTERS) or \
        " ".join(words[:2]) in ("the latter", "the former")


_PRONOUNS = frozenset("he she it they his her hers its their theirs him them".split())
_POINTERS = frozenset("this these that those such there".split())


def choose_excerpts(claim: str, pool: Pool, members: Sequence[int], cost: Callable[[int], int], allowance: int,
                    max_excerpts: int, repeat_threshold: float,
                    context_cost: Callable[[int], int] | None = None) -> list[tuple[int, int]]:
    """A claim's excerpts from its own passages `members` (of `pool`, best-ranked first), as spans
    of pool sentences (first, end), most relevant first, from the sentences that share a term of
    their own with the claim (not only through their page's title): the best always (the opening
    of its best passage when there is none), then each next one that fits the allowance (`cost`
    of a sentence as an entry, in tokens) and does not nearly repeat one kept, at most `max_excerpts`.
    Then, with `context_cost` (a sentence's cost when it joins an entry), each chosen sentence that
    refers back (:func:`refers_back`) starts one sentence earlier where that still fits and the
    sentence before (in its passage) shares a term with the claim (it names whom "she" is, not some
    other matter)."""
    chosen: list[int] = []
    kept: list[frozenset[str]] = []
    used = 0
    words = pool.words
    query = frozenset(terms(claim))
    ranked = rank_sentences(query, pool, members)
    if not ranked:  # none does: the opening of its best passage, which says what the page is about
        ranked = [pool.starts[i] for i in members[:1] if pool.spans[i]]
    for g in ranked:
        if len(chosen) >= max_excerpts:
            break
        price = cost(g)
        if chosen and (used + price > allowance or near_repeat(words[g], kept, repeat_threshold)):
            continue
        chosen.append(g)
        kept.append(words[g])
        used += price
    spans = []
    for g in chosen:
        start = g
        if context_cost is not None and g > pool.starts[pool.owner[g]] and g - 1 not in chosen and \
                query & words[g - 1] and refers_back(pool.texts[g]) and used + context_cost(g - 1) <= allowance:
            used += context_cost(g - 1)
            start = g - 1
        spans.append((start, g + 1))
    return spans
