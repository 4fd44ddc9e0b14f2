"""Sentence excerpts: which sentences of a claim's own passages it is shown."""

from __future__ import annotations

from factbench.evidence.excerpts import (
    MAX_SENTENCE_CHARS,
    Pool,
    choose_excerpts,
    indices,
    refers_back,
    split_sentences,
    terms,
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


def test_terms_follow_the_index_rules_on_ascii_and_other_text():
    from factbench.evidence.index_text import TOKEN, index_term

    for text in ("Dr. Ada-King's 3 awards (1840s), e.g. U.S._Navy!", "Café Zürich: naïve ÉCOLE 2nd", "\t\x00~ab\x7fcd"):
        expected = [t for t in map(index_term, TOKEN.findall(text.lower())) if t]
        assert terms(text) == expected


def test_indices_are_the_set_bits_in_order():
    for mask in (0, 1, 0b1011, (1 << 200) | (1 << 3), (1 << 150) - 1, int("10" * 90, 2)):
        assert indices(mask) == tuple(k for k in range(mask.bit_length()) if mask >> k & 1)


def test_a_pool_of_more_passages_chooses_what_the_claims_own_passages_choose():
    """An answer's passages are prepared once for all its claims; each claim still ranks its own
    passages alone, in its own order: a sentence quoted by two sites counts where the claim's
    better-ranked one says it, and passages it did not retrieve change nothing."""
    fact = "In 1976 she joined the Kornesa Orchestra as its president."
    entries = [("Casdal Vorelter", f"Casdal Vorelter was a violinist. {fact} She retired in 1990."),
               ("site one", f"{fact} The orchestra toured Spain."),
               ("site two", f"Reviews were mixed. {fact}"),
               ("Other page", "The Kornesa Orchestra was founded in 1901 as a president's orchestra."),
               ("Casdal Vorelter", "Casdal Vorelter was a violinist. She taught in Porto.")]
    claim = "Casdal Vorelter became president of the Kornesa Orchestra in 1976."
    pool = Pool(entries)

    def shown(pool: Pool, members: list[int]) -> list[tuple[str, str]]:
        spans = choose_excerpts(claim, pool, members, lambda g: len(pool.texts[g]) // 4 + 1, 80, 3, 1.0)
        return [(pool.entries[pool.owner[a]][0], " ".join(pool.texts[a:b])) for a, b in spans]

    for members in ([2, 1, 0], [0, 2, 1], [1, 4, 3], [4, 0], [3, 2]):
        own = Pool([entries[i] for i in members])
        assert shown(pool, members) == shown(own, list(range(len(members))))
    assert shown(pool, [2, 1, 0])[0] == ("site two", fact)  # the quote counts in the better-ranked site
    assert shown(pool, [1, 2, 0])[0] == ("site one", fact)
    # a passage it did not retrieve, where "won" is common, does not make "won" count for less
    pool = Pool([("", "Ada won the Lyon prize. Ada met Bo in Paris."), ("", "Bo won. Cy won. Di won. Ed won.")])
    best = choose_excerpts("Ada won in Paris.", pool, [0], lambda g: 5, 80, 1, 1.0)
    assert [" ".join(pool.texts[a:b]) for a, b in best] == ["Ada won the Lyon prize."]
