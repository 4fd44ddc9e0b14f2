"""Grounding: a claim must say something its answer says.

An extractor can add claims that are not in the answer at all: a small model copies the
worked example of its prompt ("The Mariana Trench is in the western Pacific Ocean."), or
carries facts over from another answer. Such a claim would be verified on its own merits and
credited to the answer. This check runs after extraction, before evidence and verification,
and drops a claim whose content the answer does not support:

- its content words (spaCy's tokenizer; stop words, punctuation and symbols left out) are
  compared with those of the question and the sentences the extractor saw around the claim's
  sentence (3 before, 1 after, as in :mod:`factbench.stages.claims`). Words match on a shared
  stem (the first STEM characters), so "films" matches "film" and "married" "marriage";
- a number in the claim must appear in the answer or the question, digits or words alike
  ("two" is 2);
- the claim is grounded when at least MIN_SHARE of its content words are found there and its
  numbers are all in the answer. A claim without content words passes.

Words a decontextualised claim borrows are covered: the subject's name comes from the
question or an earlier sentence, a category word ("film", "actor") from its sentence. The
figures of `bench/grounding.py` (human-extracted facts of real answers kept, facts moved
from another answer dropped) are in docs/metrics.md.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from factbench.stages.sentences import nlp
from factbench.store.records import Claim

STEM = 4
MIN_SHARE = 0.5
CONTEXT_BEFORE = 3
CONTEXT_AFTER = 1
# "one" and "first" are left out: they are mostly pronouns and ordinals ("one of his roles").
_NUMBER_WORDS = {w: str(i) for i, w in enumerate(
    ("zero", "", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
     "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty")) if w}
_NUMBER_WORDS.update({"second": "2", "third": "3", "twice": "2", "dozen": "12", "thirty": "30", "forty": "40",
                      "fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90", "hundred": "100"})


@dataclass(frozen=True)
class Terms:
    words: frozenset[str]  # stems of the content words
    numbers: frozenset[str]  # numbers, written in digits or in words, as digits without separators
    digits: frozenset[str]  # the numbers written in digits


_DIGITS = re.compile(r"\d+(?:[.,]\d+)*")
_SHORT_RANGE = re.compile(r"\b(\d\d)(\d\d)\s*[-–]\s*(\d\d)\b(?![.,]?\d)")  # 2013–16: 2016 too


def _plain(text: str) -> str:
    """Lower case without accents: "Mötley Crüe" matches "Motley Crue"."""
    if text.isascii():  # nothing to decompose (most answers)
        return text.lower()
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))


def _number(digits: str) -> str:
    digits = digits.replace(",", "")
    return digits.rstrip("0").rstrip(".") if "." in digits else digits.lstrip("0") or "0"


@lru_cache(maxsize=1 << 16)  # a claim is often its sentence word for word, and merged facts read the terms again
def terms(text: str) -> Terms:
    """The content words (as stems) and the numbers of a text (kept for the claims' second use, the
    merged design's content: :mod:`factbench.scoring.facts`)."""
    text = _plain(text)
    digits = {_number(m) for m in _DIGITS.findall(text)}
    digits.update(century + end for century, _, end in _SHORT_RANGE.findall(text))
    numbers = set(digits)
    words: set[str] = set()
    for chunk in _DIGITS.sub(" ", text).split():
        chunk_words, chunk_numbers = _chunk_terms(chunk)
        words.update(chunk_words)
        numbers.update(chunk_numbers)
    return Terms(frozenset(words), frozenset(numbers), frozenset(digits))


@lru_cache(maxsize=1 << 16)
def _chunk_terms(chunk: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Content-word stems and number words of one whitespace-free piece of text. spaCy's tokenizer
    splits text at whitespace first and tokenizes each piece on its own, so a text's tokens are its
    pieces' tokens; pieces repeat across a run's sentences and claims, and each is tokenized once.
    `chunk` is lower case (:func:`_plain`)."""
    words: list[str] = []
    numbers: list[str] = []
    from spacy.attrs import IS_STOP  # spaCy is loaded by nlp(), never at import

    tokenizer = nlp().tokenizer
    if chunk in (".", ","):
        return (), ()
    if chunk[-1] in ".," and chunk not in tokenizer.rules and chunk[:-1].isascii() and chunk[:-1].isalpha():
        # "years." or "Paris,": spaCy splits the mark off a lower-case word that is not a special
        # case ("etc.", "mr." are), then reads the word alone; so does this, without the tokenizer.
        return _chunk_terms(chunk[:-1])
    if chunk.isascii() and chunk.isalpha() and chunk not in tokenizer.rules:
        # Letters only, not a special case: no prefix, suffix or infix rule applies, so spaCy would
        # make it one token. Asking the vocabulary's own stop-word test spares making a lexeme.
        if chunk in _NUMBER_WORDS:
            numbers.append(_NUMBER_WORDS[chunk])
        elif not tokenizer.vocab.lex_attr_getters[IS_STOP](chunk) and chunk != "s":
            words.append(chunk[:STEM])
        return tuple(words), tuple(numbers)
    for token in tokenizer(chunk):
        low = token.lower_.strip("'’")
        if low.endswith(("'s", "’s")):
            low = low[:-2]
        if low in _NUMBER_WORDS:
            numbers.append(_NUMBER_WORDS[low])
        elif any(c.isalpha() for c in low) and not token.is_stop and low not in ("s", "n't"):
            words.append(low[:STEM])
    return tuple(words), tuple(numbers)


@dataclass(frozen=True)
class Grounding:
    share: float  # of the claim's content words found in its context
    missing_numbers: tuple[str, ...]

    @property
    def grounded(self) -> bool:
        return self.share >= MIN_SHARE and not self.missing_numbers


def check(claim: str, context: Terms, answer: Terms) -> Grounding:
    """How well `context` (question + the claim's sentence and its neighbours) supports `claim`."""
    own = terms(claim)
    found = len(own.words & context.words) + len(own.numbers & context.numbers)
    total = len(own.words) + len(own.numbers)
    share = found / total if total else 1.0
    missing = tuple(sorted(own.digits - answer.numbers - context.numbers))
    return Grounding(share, missing)


def _union(parts: list[Terms]) -> Terms:
    return Terms(frozenset().union(*[p.words for p in parts]), frozenset().union(*[p.numbers for p in parts]),
                 frozenset().union(*[p.digits for p in parts]))


def split_grounded(claims: list[Claim], sentences: list[str], question: str) -> tuple[list[Claim], list[Claim]]:
    """(grounded, ungrounded) claims of one answer, each in its original order."""
    if not claims:
        return [], []
    per_sentence = [terms(s) for s in sentences]
    asked = terms(question)
    answer = _union(per_sentence + [asked])
    contexts: dict[int, Terms] = {}
    kept: list[Claim] = []
    dropped: list[Claim] = []
    for claim in claims:
        i = claim.sentence
        if i not in contexts:
            window = per_sentence[max(0, i - CONTEXT_BEFORE):i + 1 + CONTEXT_AFTER] if 0 <= i < len(sentences) else []
            contexts[i] = _union(window + [asked])
        (kept if check(claim.text, contexts[i], answer).grounded else dropped).append(claim)
    return kept, dropped
