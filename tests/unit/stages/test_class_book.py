"""Sorting claims by question (stages/informativeness.py): which claims of a book a new claim is
shown with, which claims of an answer need a restatement call, and how books pack into calls."""

from __future__ import annotations

from factbench.judges.informativeness import parse_book
from factbench.stages.informativeness import linked_claims, restatement_context, section_calls

QUESTION = "Tell me about Ada Quill."


def test_a_new_claim_is_shown_with_the_claims_it_may_repeat_or_hold():
    texts = ["Ada Quill died in the year 1977.", "Ada Quill married Tomas Brinn in 1930.",
             "Ada Quill won the Merrit Prize.", "Ada Quill taught chemistry."]
    book = {t: {"class": "informative", "text": t} for t in texts}
    # the same year, in other words; a name; half the content words: each is shown, nothing else is
    assert [t for _, t in restatement_context(QUESTION, {"x": "The death of Ada Quill took place in 1977."}, book, 60)] \
        == [texts[0]]
    assert [t for _, t in restatement_context(QUESTION, {"x": "Ada Quill's husband was Tomas Brinn."}, book, 60)] \
        == [texts[1]]
    assert [t for _, t in restatement_context(QUESTION, {"x": "Ada Quill taught chemistry well."}, book, 60)] \
        == [texts[3]]
    # the question's own words (the name) are in every claim: they make no candidate
    assert restatement_context(QUESTION, {"x": "Ada Quill sang."}, book, 60) == []
    assert len(restatement_context(QUESTION, {"x": "In 1977 and 1930 Ada Quill taught chemistry."}, book, 2)) == 2


def test_an_answer_is_linked_by_a_repeat_or_by_a_pair_the_book_holds():
    book = {"a": {"class": "informative", "text": "a", "within": ["b"], "holds": []},
            "b": {"class": "informative", "text": "b", "within": [], "holds": []},
            "c": {"class": "informative", "text": "c", "within": [], "holds": ["d"]},
            "d": {"class": "informative", "text": "d", "within": [], "holds": []}}
    assert linked_claims(book, ["b", "x", "a"]) == [0, 2]
    assert linked_claims(book, ["d", "c"]) == [0, 1]  # recorded on the claim that holds the other
    assert linked_claims(book, ["a", "c", "x"]) == []
    assert linked_claims(book, ["x", "y", "x"]) == [0, 2]


def test_the_book_parser_keeps_pairs_of_listed_claims_and_never_guesses_on_broken_output():
    classes, errors, pairs = parse_book('{"t": [3], "o": [4], "r": [[3, 1], [1, 2], [9, 3], [4, 4]]}', [3, 4], {1, 2, 3, 4})
    assert classes == ["trivial", "off_topic"] and errors == [None, None]
    assert pairs == [(3, 1)]  # both context, an unknown claim, a claim with itself: left out
    assert parse_book('{"t": [3', [3], {3})[0] == [None]
    assert parse_book('{"t": [3], "o": [3]}', [3], {3})[1] == ["conflicting_class"]


def test_books_are_packed_whole_into_calls_and_a_large_book_split_in_order():
    todo = {"a": ("qa", {f"a{i}": "x" for i in range(20)}), "b": ("qb", {f"b{i}": "x" for i in range(8)}),
            "c": ("qc", {f"c{i}": "x" for i in range(5)}), "d": ("qd", {f"d{i}": "x" for i in range(65)})}
    sequences = section_calls(todo, 30)
    assert [[[(s.book, len(s.claims)) for s in call] for call in calls] for calls in sequences] == \
        [[[("a", 20), ("b", 8)]], [[("d", 30)], [("d", 30)], [("d", 5)]], [[("c", 5)]]]
