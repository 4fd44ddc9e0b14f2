import pytest

from factbench.hacks.variants import (
    HACK_NAMES,
    KEEP_SENTENCES,
    N_OFFTOPIC,
    N_TRIVIAL,
    OFFTOPIC,
    derive,
    subject_of,
)
from factbench.stages.claims import is_abstention, split_sentences

ANSWER = "Ada Lovelace was born in 1815. The Analytical Engine fascinated her. She died in 1852."


@pytest.mark.parametrize("hack", [h for h in HACK_NAMES if h != "paraphrase"])
def test_variants_are_deterministic(hack):
    assert derive(hack, ANSWER, "Ada Lovelace", "ada") == derive(hack, ANSWER, "Ada Lovelace", "ada")


def test_each_variant_does_what_it_says():
    n = len(split_sentences(ANSWER))
    assert len(split_sentences(derive("repeat", ANSWER, "Ada Lovelace", "ada"))) == 3 * n
    trivial = split_sentences(derive("trivial", ANSWER, "Ada Lovelace", "ada"))
    assert len(trivial) == n + N_TRIVIAL and all("Ada Lovelace" in s for s in trivial[n:])
    offtopic = split_sentences(derive("offtopic", ANSWER, "Ada Lovelace", "ada"))
    assert len(offtopic) == n + N_OFFTOPIC and set(offtopic[n:]) <= set(OFFTOPIC)
    assert split_sentences(derive("truncate", ANSWER, "Ada Lovelace", "ada")) == split_sentences(ANSWER)[:KEEP_SENTENCES]
    hedged = split_sentences(derive("hedge", ANSWER, "Ada Lovelace", "ada"))
    assert hedged[0] == "It is possible that Ada Lovelace was born in 1815."
    assert hedged[1] == "Some sources suggest that the Analytical Engine fascinated her."
    assert hedged[2] == "She died in 1852, although I may be mistaken."
    assert is_abstention(derive("abstain", ANSWER, "Ada Lovelace", "ada"))
    rewrites = {0: "In 1815 Ada Lovelace was born.", 1: "She was fascinated by the Analytical Engine.",
                2: "Her death came in 1852."}
    assert split_sentences(derive("paraphrase", ANSWER, "Ada Lovelace", "ada", rewrites))[1] == rewrites[0]
    with pytest.raises(ValueError, match="rewrite of every sentence"):
        derive("paraphrase", ANSWER, "Ada Lovelace", "ada", {0: "x"})


def test_subject_of_a_question():
    assert subject_of("Tell me a bio of Marie Curie.") == "Marie Curie"
    assert subject_of("What can you tell me about the Panama Canal?") == "The Panama Canal"
    assert subject_of("anything", topic="Kilimanjaro") == "Kilimanjaro"


def test_split_makes_clauses_sentences_and_keeps_lists_whole():
    text = "He lived in Paris, London, and Rome; he died in 1900, and his son inherited the house."
    assert split_sentences(derive("split", text, "He", "x")) == [
        "He lived in Paris, London, and Rome.", "He died in 1900.", "His son inherited the house."]
    assert derive("split", ANSWER, "Ada Lovelace", "ada") == ANSWER  # nothing to split


def test_false_details_follow_every_third_sentence():
    six = " ".join([ANSWER, ANSWER])
    out = split_sentences(derive("falsedetail", six, "Ada Lovelace", "ada"))
    assert len(out) == 8 and out[3].startswith("Ada Lovelace") and out[7].startswith("Ada Lovelace")
    assert out[3] != out[7] and out[:3] == split_sentences(ANSWER)
