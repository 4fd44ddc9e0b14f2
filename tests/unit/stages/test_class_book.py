"""Which claims of an answer may restate one another (stages/informativeness.py): with the memo,
only those are asked about per answer; every other class is judged once per question."""

from __future__ import annotations

from factbench.stages.informativeness import section_calls, similar_claims

QUESTION = "Tell me about Ada Quill."


def test_claims_sharing_what_they_state_are_similar_and_others_are_not():
    texts = ["Ada Quill was born in Tarrow in 1901.", "Ada Quill married Tomas Brinn in 1930.",
             "Ada Quill's birthplace was Tarrow, in 1901.", "Ada Quill won the Merrit Prize in 1951."]
    assert similar_claims(QUESTION, texts) == [0, 2]


def test_a_repeat_is_similar_and_the_question_words_alone_link_nothing():
    texts = ["Ada Quill is a person.", "Ada Quill sang.", "ADA QUILL is a person!", "Ada Quill danced."]
    assert similar_claims(QUESTION, texts) == [0, 2]  # the name is the question's: "sang" and "danced" share nothing


def test_a_merged_claim_is_similar_to_each_of_its_parts_in_any_order():
    texts = ["Ada Quill taught chemistry.", "Ada Quill founded the Tarrow Glass Works.",
             "Ada Quill taught chemistry and founded the Tarrow Glass Works."]
    assert similar_claims(QUESTION, texts) == [0, 1, 2]
    assert similar_claims(QUESTION, texts[::-1]) == [0, 1, 2]


def test_books_are_packed_whole_into_calls_and_a_large_book_split():
    todo = {"a": ("qa", {f"a{i}": "x" for i in range(20)}), "b": ("qb", {f"b{i}": "x" for i in range(8)}),
            "c": ("qc", {f"c{i}": "x" for i in range(5)}), "d": ("qd", {f"d{i}": "x" for i in range(65)})}
    calls = section_calls(todo, 30)
    assert [[(s.book, len(s.claims)) for s in call] for call in calls] == \
        [[("a", 20), ("b", 8)], [("d", 30)], [("d", 30)], [("d", 5)], [("c", 5)]]
