"""The grounding check: what it keeps (decontextualised facts of the sentence) and drops."""

from __future__ import annotations

import pytest

from factbench.stages.grounding import split_grounded, terms
from factbench.store.records import Claim

QUESTION = "Tell me a bio of Doug Sheehan."
SENTENCES = [
    "Doug Sheehan is an American actor best known for his role as Ben Galvin in Knots Landing.",
    "He has also appeared in films such as The Big Easy.",
    "He was born in Los Angeles on August 24, 1956.",
    "He has been married since 1984 to Lisa Cooper and has two children.",
    "Sánchez starred in Devious Maids (2013–16).",
]


def _split(*claims: tuple[str, int]) -> tuple[list[str], list[str]]:
    kept, dropped = split_grounded([Claim(text=t, sentence=i) for t, i in claims], SENTENCES, QUESTION)
    return [c.text for c in kept], [c.text for c in dropped]


def test_facts_of_the_sentence_are_kept():
    facts = [("Doug Sheehan is an American.", 0), ("Doug Sheehan has appeared in The Big Easy.", 1),
             ("The Big Easy is a film.", 1), ("Doug Sheehan was born in 1956.", 2),
             ("Doug Sheehan has 2 children.", 3), ("Doug Sheehan's marriage to Lisa Cooper began in 1984.", 3),
             ("Devious Maids ran until 2016.", 4), ("Sanchez starred in Devious Maids.", 4)]
    kept, dropped = _split(*facts)
    assert dropped == [] and len(kept) == len(facts)


def test_claims_not_in_the_answer_are_dropped():
    kept, dropped = _split(("The Mariana Trench is in the western Pacific Ocean.", 0),
                           ("Doug Sheehan was born in 1957.", 2),  # a number the answer never states
                           ("Marie Curie won the Nobel Prize in Physics.", 3),
                           ("Doug Sheehan is an actor.", 0))
    assert kept == ["Doug Sheehan is an actor."]
    assert dropped == ["The Mariana Trench is in the western Pacific Ocean.", "Doug Sheehan was born in 1957.",
                       "Marie Curie won the Nobel Prize in Physics."]


def test_order_is_kept_and_nothing_to_check_passes():
    kept, dropped = _split(("He is.", 0), ("Doug Sheehan appeared in films.", 1))
    assert kept == ["He is.", "Doug Sheehan appeared in films."] and dropped == []
    assert split_grounded([], SENTENCES, QUESTION) == ([], [])


def test_terms_match_stems_numbers_and_accents():
    t = terms("Mötley Crüe released two albums in 1,981 and 2013–16.")
    assert {"motl", "crue", "rele", "albu"} <= t.words
    assert t.numbers == {"2", "1981", "2013", "16", "2016"} and "2" not in t.digits



def _terms_of_whole_text(text: str) -> tuple[set[str], set[str]]:
    """The content-word stems and numbers terms() must give, from one spaCy pass over the whole text."""
    from factbench.stages import grounding
    from factbench.stages.sentences import nlp

    plain = grounding._plain(text)
    words, numbers = set(), {grounding._number(m) for m in grounding._DIGITS.findall(plain)}
    numbers.update(c + e for c, _, e in grounding._SHORT_RANGE.findall(plain))
    for token in nlp().tokenizer(grounding._DIGITS.sub(" ", plain)):
        low = token.lower_.strip("'’")
        low = low[:-2] if low.endswith(("'s", "’s")) else low
        if low in grounding._NUMBER_WORDS:
            numbers.add(grounding._NUMBER_WORDS[low])
        elif any(c.isalpha() for c in low) and not token.is_stop and low not in ("s", "n't"):
            words.add(low[:grounding.STEM])
    return words, numbers


TRICKY = [
    "Dr. Smith (born 1950 in St. Louis, Mo.) didn't go to the U.S.A. until 2001 -- he couldn't.",
    "She's \"the best\": won three Oscars; her site is https://example.com/a?b=c, e-mail a@b.org.",
    "Mötley Crüe\u00a0released   two\talbums\n(1981–83) & toured w/ Ozzy... ok?!",
    "He can't, won't, gonna, cannot, y'all; it's 5 p.m. on Jan. 3rd, isn't it? The Beatles' song.",
    "Mr. A. Jones, Inc. etc. vs. e.g. a. b. no. st. mt. I. U. years. Paris, the. and, it. one. two, ca. approx.",
]


def _check_terms(lines: list[str]) -> None:
    for line in lines:
        t = terms(line)
        assert (set(t.words), set(t.numbers)) == _terms_of_whole_text(line), line


def test_terms_equal_one_spacy_pass_over_the_whole_text():
    """terms() tokenizes each whitespace-separated piece once (cached across texts); the result must
    be what spaCy's tokenizer over the whole text gives."""
    _check_terms(TRICKY)


def test_terms_equal_one_spacy_pass_on_real_answers(shared_data):
    from tests.unit.stages.test_sentences import _benchmark_lines

    if not (shared_data / "factscore" / "labeled_data").is_dir():
        pytest.skip("FActScore answers not present")
    _check_terms(_benchmark_lines(shared_data)[:3000])
