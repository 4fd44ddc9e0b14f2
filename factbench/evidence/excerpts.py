"""Sentence-level excerpts: the few sentences of a claim's own passages that bear on it.

A judge reading a whole 250-token passage to check a 12-word claim spends most of its prefill on
sentences about other facts. A claim is therefore shown the sentences of its top-ranked passages
that best match it: every sentence of those passages is scored against the claim with BM25
(document frequencies taken over those sentences alone), and the best are kept, most relevant
first, while they fit a small token allowance; a sentence that nearly repeats one already kept
(search results quote one source on several sites) is skipped. What is chosen depends on the
claim and its own ranked passages only, so a claim's evidence is the same in any call.

Sentences are split on end punctuation followed by a capital, digit or quote; abbreviations and
initials ("Dr.", "St.", "J. S. Bach") do not end a sentence. A sentence longer than
MAX_SENTENCE_CHARS is cut into pieces at word boundaries, so one run-on passage cannot use a
claim's whole allowance.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

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


def terms(text: str) -> list[str]:
    """The index terms of `text` with repeats (the corpus index's rules: lower case, stopwords out, plurals folded)."""
    memo = _TERM_OF
    tokens = TOKEN.findall(text.lower())
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


def indices(mask: int) -> tuple[int, ...]:
    """The positions of the set bits of `mask`, in order (sentence k of a passage is bit 1 << k)."""
    found = _INDICES.get(mask)
    if found is None:
        if len(_INDICES) > 100_000:
            _INDICES.clear()
        found = _INDICES[mask] = tuple(k for k in range(mask.bit_length()) if mask >> k & 1)
    return found


@dataclass(frozen=True)
class PassageText:
    """A passage's text prepared for excerpting, whatever its title: its sentences, each one's
    set of its own terms (and its length, scaled), which sentences say each term (a bit mask: sentence k is bit
    1 << k), how often a sentence says a term it says more than once (term -> {sentence: count}),
    each distinct sentence's bit and length, the sentences that repeat an earlier one of it, and
    the total length of its distinct sentences. Bit masks keep the per-claim work to integer
    operations: passing over sentences is `mask & ~skip`, counting them `mask.bit_count()`."""

    texts: list[str]
    words: list[frozenset[str]]
    postings: dict[str, int]
    counts: dict[str, dict[int, int]]
    first: dict[str, int]
    distinct: dict[str, int]
    repeats: int
    size: int
    every: int  # the mask of all its sentences
    scaled: list[float]  # each sentence's length times BM25's b, as its length norm uses it
    norms: dict[float, tuple[list[float], list[float]]] = field(default_factory=dict, compare=False, repr=False)

    @staticmethod
    @functools.lru_cache(maxsize=1024)  # one text comes back under several titles (search results)
    def of(text: str) -> PassageText:
        texts = split_sentences(text)
        postings: dict[str, int] = {}
        counts: dict[str, dict[int, int]] = {}
        lengths, words, first, distinct, repeats, size = [], [], {}, {}, 0, 0
        for k, sentence in enumerate(texts):
            n, said, again = analysed(sentence)
            lengths.append(n)
            words.append(said)
            bit = 1 << k
            for term in said:
                postings[term] = postings.get(term, 0) | bit
            if again:
                for term, tf in again.items():
                    counts.setdefault(term, {})[k] = tf
            if sentence in first:
                repeats |= bit
            else:
                first[sentence] = bit
                distinct[sentence] = n
                size += n
        return PassageText(texts, words, postings, counts, first, distinct, repeats, size,
                           (1 << len(texts)) - 1, [_B * n for n in lengths])

    def norms_at(self, average: float) -> tuple[list[float], list[float]]:
        """Each sentence's BM25 length norm at this average sentence length, and that plus one (a
        term said once divides by it); kept per average, which the claims that retrieved the
        same passages share."""
        found = self.norms.get(average)
        if found is None:
            if len(self.norms) > 64:
                self.norms.clear()
            norms = [_K1 * (_FLAT + b / average) for b in self.scaled]
            found = self.norms[average] = (norms, [1 + norm for norm in norms])
        return found


@functools.lru_cache(maxsize=1024)  # one set per title, so a claim matches each title once (:func:`_matches`)
def _title_terms(title: str) -> frozenset[str]:
    return frozenset(terms(title))


@dataclass(frozen=True)
class Sentences:
    """One passage prepared for excerpting: its text's sentences (:class:`PassageText`) and its
    title's terms."""

    text: PassageText
    named: frozenset[str]
    groups: dict[tuple[str, ...], list[tuple[int, tuple[str, ...]]]] = \
        field(default_factory=dict, compare=False, repr=False)

    @staticmethod
    @functools.lru_cache(maxsize=1024)  # a passage is excerpted for all the claims that retrieved it
    def of(text: str, title: str = "") -> Sentences:
        return Sentences(PassageText.of(text), _title_terms(title))

    def by_title_terms(self, named: tuple[str, ...]) -> list[tuple[int, tuple[str, ...]]]:
        """Its sentences in groups by which of its title's terms `named` each says: (their mask,
        those terms), so what the title adds to a sentence is reckoned once a group; kept per
        `named`, which is the whole title for most claims that name the page's subject."""
        found = self.groups.get(named)
        if found is None:
            if len(self.groups) > 64:
                self.groups.clear()
            found = [(self.text.every, ())]
            for t in named:
                saying = self.text.postings.get(t, 0)
                found = [part for sentences, says in found
                         for part in ((sentences & saying, (*says, t)), (sentences & ~saying, says)) if part[0]]
            self.groups[named] = found
        return found

    @property
    def texts(self) -> list[str]:
        return self.text.texts

    @property
    def words(self) -> list[frozenset[str]]:
        return self.text.words


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


def uncounted(candidates: Sequence[tuple[int, Sentences]]) -> tuple[list[int], int, int]:
    """Per passage of `candidates` (best-ranked first), its sentences that do not count (a bit
    mask): those that repeat one said earlier in it or in a better-ranked passage; and how many
    distinct sentences all hold, and their total length."""
    seen: set[str] = set()
    skips = []
    size = 0
    for _, s in candidates:
        p = s.text
        again = seen.intersection(p.first) if seen else None
        if again:
            skips.append(p.repeats | sum(map(p.first.__getitem__, again)))  # distinct bits: their sum is their union
            size += p.size - sum(map(p.distinct.__getitem__, again))
        else:
            skips.append(p.repeats)
            size += p.size
        seen.update(p.first)
    return skips, len(seen), size


def rank_sentences(query: frozenset[str], candidates: Sequence[tuple[int, Sentences]]) -> list[tuple[float, int, int]]:
    """(-score, position in `candidates`, sentence) for the sentences of `candidates` ((passage
    id, its sentences), best-ranked passage first) that share a term of their own with the claim
    (`query`, its terms), best first: BM25 over all these sentences, where a page's title counts in each of its
    sentences (a page names its subject once, then says "she", so the subject's name does not
    outweigh the detail that tells its sentences apart) and a sentence repeated word for word
    (one source quoted on several sites) counts once, where it first appears (:func:`uncounted`);
    ties go to the better-ranked passage, then the earlier sentence."""
    skips, n, size = uncounted(candidates)
    if not n:
        return []
    held, df = _matches(query, candidates, skips)
    idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
    average = max(1.0, size / n)
    out: list[tuple[float, int, int]] = []
    for rank, s, said, named in held:
        out += _scored(rank, s, said, named, idf, average)
    out.sort()
    return out


Held = list[tuple[str, int]]  # a passage's terms of the claim, each with the sentences that count and say it


def _matches(query: frozenset[str], candidates: Sequence[tuple[int, Sentences]], skips: list[int]) \
        -> tuple[list[tuple[int, Sentences, Held, tuple[str, ...]]], dict[str, int]]:
    """Each term's document frequency over the sentences that count, where a title's term is in
    every sentence of its page; and for each passage where one of those says a term of the claim:
    (its position, the passage, the claim's terms its sentences say, in term order (a fixed order:
    float sums, hence ties, the same under any hash seed), each with the sentences that count and
    say it, its title's terms the claim has, in order). A passage whose sentences all repeat
    better-ranked ones (a search result quoting another) adds nothing to either."""
    held = []
    df: dict[str, int] = defaultdict(int)
    order = sorted(query)
    named_by: dict[frozenset[str], tuple[str, ...]] = {}  # a title's terms -> those the claim has, in order
    for rank, ((_, s), skip) in enumerate(zip(candidates, skips)):
        p = s.text
        if skip == p.every:
            continue
        said: Held = []
        live = 0
        title, postings = s.named, p.postings
        for t in filter(postings.__contains__, order):
            mask = postings[t] & ~skip
            said.append((t, mask))
            live |= mask
            if t not in title:
                df[t] += mask.bit_count()
        named = named_by.get(title)
        if named is None:
            named = named_by[title] = tuple(sorted(title & query))
        if named:
            counted = len(p.texts) - skip.bit_count()
            for t in named:
                df[t] += counted
        if live:
            held.append((rank, s, said, named))
    return held, df


def _scored(rank: int, s: Sentences, said: Held, named: tuple[str, ...], idf: dict[str, float],
            average: float) -> list[tuple[float, int, int]]:
    """(-score, rank, sentence) for the sentences of one passage that say a term of the claim; the
    title's terms (`named`) a sentence does not say itself count once each, added last. (A term
    said once adds w * lifted / (1 + norm), the same float as the general w * tf * lifted / (tf + norm).)"""
    p = s.text
    norms, once = p.norms.get(average) or p.norms_at(average)
    scores = [0.0] * len(once)
    touched = 0
    for t, mask in said:
        if not mask:
            continue
        touched |= mask
        w = idf[t]
        counts = p.counts.get(t) if p.counts else None
        if counts is None:
            weight = w * _LIFTED
            for k in _INDICES.get(mask) or indices(mask):
                scores[k] += weight / once[k]
        else:
            for k in indices(mask):
                tf = counts.get(k, 1)
                scores[k] += w * tf * _LIFTED / (tf + norms[k])
    for group, says in s.groups.get(named) or s.by_title_terms(named) if named else ():
        sentences = group & touched
        if sentences:
            extra = 0.0
            for t in named:
                if t not in says:
                    extra += idf[t]
            extra *= _LIFTED
            for k in _INDICES.get(sentences) or indices(sentences):
                scores[k] += extra / once[k]
    return [(-scores[k], rank, k) for k in _INDICES.get(touched) or indices(touched)]


def refers_back(sentence: str) -> bool:
    """Whether a sentence leans on the one before it: a pronoun among its first words ("In 1983 he
    joined ...") or an opening that points back ("This", "The latter")."""
    first = sentence.split(None, 4)[:4]
    words = [w.strip(",;:\"'()").lower() for w in first]
    return any(w in _PRONOUNS for w in words) or (bool(words) and words[0] in _POINTERS) or \
        " ".join(words[:2]) in ("the latter", "the former")


_PRONOUNS = frozenset("he she it they his her hers its their theirs him them".split())
_POINTERS = frozenset("this these that those such there".split())


def choose_excerpts(claim: str, candidates: Sequence[tuple[int, Sentences]], cost: Callable[[int, int], int],
                    allowance: int, max_excerpts: int, repeat_threshold: float,
                    context_cost: Callable[[int, int], int] | None = None) -> list[tuple[int, int, int]]:
    """A claim's excerpts, (passage id, first sentence, end), most relevant first, from the
    sentences that share a term of their own with the claim (not only through their page's
    title): the best always (the opening of its best passage when there is none), then each next
    one that fits the allowance (`cost` of a sentence as an entry, in tokens) and does not nearly
    repeat one kept, at most `max_excerpts`.
    Then, with `context_cost` (a sentence's cost when it joins an entry), each chosen sentence that
    refers back (:func:`refers_back`) starts one sentence earlier where that still fits and the
    sentence before shares a term with the claim (it names whom "she" is, not some other matter)."""
    chosen: list[tuple[int, int]] = []
    kept: list[frozenset[str]] = []
    used = 0
    sentences = dict(candidates)
    query = frozenset(terms(claim))
    ranked = rank_sentences(query, candidates)
    if not ranked:  # none does: the opening of its best passage, which says what the page is about
        ranked = [(0.0, 0, 0) for _, s in candidates[:1] if s.texts]
    for _, rank, k in ranked:
        if len(chosen) >= max_excerpts:
            break
        pid, s = candidates[rank]
        price = cost(pid, k)
        words = s.words[k]
        if chosen and (used + price > allowance or near_repeat(words, kept, repeat_threshold)):
            continue
        chosen.append((pid, k))
        kept.append(words)
        used += price
    spans = []
    for pid, k in chosen:
        start = k
        if context_cost is not None and k > 0 and (pid, k - 1) not in chosen and \
                refers_back(sentences[pid].texts[k]) and query & sentences[pid].words[k - 1] and \
                used + context_cost(pid, k - 1) <= allowance:
            used += context_cost(pid, k - 1)
            start = k - 1
        spans.append((pid, start, k + 1))
    return spans
