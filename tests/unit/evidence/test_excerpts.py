"""Sentence excerpts: which sentences of a claim's own passages it is shown."""

from __future__ import annotations

from factbench.evidence.excerpts import (
    MAX_SENTENCE_CHARS,
    Pool,
    choose_excerpts,
    refers_back,
    split_sentences,
)


def _choose(claim: str, texts: list[str], allowance: int = 80, max_excerpts: int = 2, context: bool = False,
            title: str = "") -> list[str]:
    """The chosen excerpts' texts, each sentence costing a token per 4 characters (+1)."""
    pool = Pool([(title, text) for text in texts])

    def cost(g: int) -> int:
        return len(pool.texts[g]) // 4 + 1

    spans = choose_excerpts(claim, pool, range(len(texts)), cost, allowance, max_excerpts, 1.0, cost if context else None)
    return [" ".join(pool.texts[a:b]) for a, b in spans]


def test_sentences_end_at_end_punctuation_but_not_after_abbreviations_or_initials():
    text = ("Dr. Ada King met J. S. Bach's heirs in St. Albans in 1840. She wrote to the U.S. embassy! "
            "Was it 1843? \"Yes,\" said Babbage.  It rained.")
    assert split_sentences(text) == ["Dr. Ada King met J. S. Bach's heirs in St. Albans in 1840.",
                                     "She wrote to the U.S. embassy!", "Was it 1843?", "\"Yes,\" said Babbage.",
                                     "It rained."]
    assert split_sentences("") == [] and split_sentences("no end punctuation") == ["no end punctuation"]


def test_an_over_long_sentence_is_cut_at_word_boundaries():
    words = [f"word{i}" for i in range(200)]
    pieces = split_sentences(" ".join(words))
    assert len(pieces) > 1 and all(len(p) <= MAX_SENTENCE_CHARS for p in pieces)
    assert " ".join(pieces).split() == words  # nothing lost, nothing cut inside a word


def test_a_claim_is_shown_its_source_sentence_even_from_a_low_ranked_passage():
    passages = [
        "Mira Vale is a figure in the history of music. She taught in Porto for many years.",
        "Vale married Owen Stroud in 1931. The couple lived in a small house near the harbour.",
        "Contemporary reviews were mixed. Vale studied music at the University of Lyon, graduating in 1925.",
        "She was awarded the Aster Prize in 1950 for her work in Ghent.",
    ]
    # its words match the first passage best as a whole, but one sentence of the third states it
    got = _choose("Mira Vale studied music and took a university degree in 1925.", passages)
    assert got[0] == "Vale studied music at the University of Lyon, graduating in 1925."
    assert len(got) == 2 and "Contemporary reviews were mixed." not in got


def test_the_allowance_and_the_cap_bound_what_a_claim_is_shown():
    passages = [" ".join(f"Ada Byron item {i} was in Turin in {1900 + j}." for j in range(6)) for i in range(4)]
    claim = "Ada Byron was in Turin."  # every sentence matches it; each costs 10 tokens
    for allowance, cap, expected in ((80, 3, 3), (80, 9, 8), (25, 9, 2), (5, 9, 1)):  # the best even over it
        got = _choose(claim, passages, allowance=allowance, max_excerpts=cap)
        assert len(got) == expected
        assert len(got) == 1 or sum(len(t) // 4 + 1 for t in got) <= allowance


def test_one_sentence_quoted_by_several_sites_counts_once():
    fact = "In 1976 she joined the Kornesa Orchestra as its president."
    snippets = [f"{fact} Much of the surviving correspondence from these years is held in regional archives.",
                fact, fact, fact,
                f"{fact} The decade brought considerable change, and some of the records were lost."]
    # "years" is in one sentence only, the fact's words in every snippet: counted once, the fact
    # sentence is still the rarer, better match, and it is shown once
    got = _choose("Casdal Vorelter held the position of president at the Kornesa Orchestra for some years.", snippets)
    assert got[0] == fact and got.count(fact) == 1


def test_sentences_that_differ_in_one_detail_are_both_kept():
    passages = ["Vorelter founded the Varvikocken Museum in 1928 with a group of former students.",
                "Vorelter founded the Varvikocken Museum in 1945 with a group of former students."]
    got = _choose("Casdal Vorelter founded the Varvikocken Museum with a group of former students.", passages)
    assert sorted(got) == sorted(passages)


def test_a_sentence_that_refers_back_brings_the_one_before_it_where_that_fits():
    passage = "Ada Byron was born in London in 1815. In 1835 she married William King. She died in 1852."
    claim = "Ada Byron married William King in 1835."
    assert refers_back("In 1835 she married William King.") and not refers_back("Ada Byron was born in London.")
    assert _choose(claim, [passage], max_excerpts=1, context=True) == [
        "Ada Byron was born in London in 1815. In 1835 she married William King."]
    assert _choose(claim, [passage], max_excerpts=1, allowance=12, context=True) == [
        "In 1835 she married William King."]  # no room for the context
    assert _choose(claim, [passage], max_excerpts=1) == ["In 1835 she married William King."]
    # a sentence before that is about something else does not say who "she" is: not brought
    assert _choose(claim, ["The weather was mild. In 1835 she married William King."], max_excerpts=1,
                   context=True) == ["In 1835 she married William King."]


def test_a_claim_sharing_no_word_with_its_passages_is_shown_the_opening_of_its_best():
    assert _choose("Zzyzx.", ["First one. Second one.", "Other passage."]) == ["First one."]
    assert _choose("Zzyzx.", []) == []


def test_a_pages_title_names_the_subject_of_each_of_its_sentences():
    page = ["Ada Byron wrote letters. She finished her studies in 1835. The storm of 1835 was severe."]
    claim = "Ada Byron graduated in 1835."
    # by its words alone, a sentence that names her wins; read as the page about her, the year decides
    assert _choose(claim, page, max_excerpts=1) == ["Ada Byron wrote letters."]
    assert _choose(claim, page, max_excerpts=1, title="Ada Byron") == ["She finished her studies in 1835."]
    # a sentence that shares nothing but the title's words is not shown past the best
    assert _choose(claim, ["She finished her studies in 1835. It rained."], title="Ada Byron") == \
        ["She finished her studies in 1835."]
