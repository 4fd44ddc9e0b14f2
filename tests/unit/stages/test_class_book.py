"""Sorting claims by question (stages/informativeness.py): which claims of a book a new claim is
shown with, which claims of an answer need a restatement call, and how books pack into calls."""

from __future__ import annotations

from factbench.judges.informativeness import parse_book, parse_classes
from factbench.stages.informativeness import answer_classes, restatement_context, section_calls, within

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


def test_an_answers_restatements_follow_from_the_pairs_in_the_book():
    book = {"a": {"class": "informative", "text": "a", "within": ["b"], "holds": []},
            "b": {"class": "informative", "text": "b", "within": [], "holds": []},
            "c": {"class": "trivial", "text": "c", "within": ["b"], "holds": ["d"]},
            "d": {"class": "informative", "text": "d", "within": [], "holds": []}}
    found = {c: book[c] for c in book}
    # a says nothing beyond b: it restates b when b comes first, and is informative before it
    assert answer_classes(book, ["b", "x", "a"], {**found, "x": {"class": "informative"}}) == \
        (["informative", "informative", "restates"], [None, None, 0])
    assert answer_classes(book, ["a", "b"], found) == (["informative", "informative"], [None, None])
    # the pair recorded on the claim that holds the other; a repeat; trivial stays trivial
    assert answer_classes(book, ["c", "d", "d"], found) == (["trivial", "restates", "restates"], [None, 0, 0])
    assert answer_classes(book, ["b", "c"], found) == (["informative", "trivial"], [None, None])
    assert within(book, "d", "c") and not within(book, "c", "d")


def test_the_book_parser_keeps_pairs_of_listed_claims_and_never_guesses_on_broken_output():
    classes, errors, pairs = parse_book('{"t": [3], "o": [4], "r": [[3, 1], [1, 2], [9, 3], [4, 4]]}', [3, 4], {1, 2, 3, 4})
    assert classes == ["trivial", "off_topic"] and errors == [None, None]
    assert pairs == [(3, 1)]  # both context, an unknown claim, a claim with itself: left out


def test_an_answers_own_call_restates_the_first_earlier_claim_it_says_nothing_beyond():
    classes, same_as, errors = parse_classes('{"t": [2], "r": [[4, 3], [4, 1], [1, 4], [2, 1], [5, 6]]}',
                                             [1, 2, 3, 4, 5, 6])
    assert classes == ["informative", "trivial", "informative", "restates", "informative", "informative"]
    assert same_as == [None, None, None, 1, None, None] and errors == [None] * 6
    # an older output's form: [claim, the claim it restates], or a bare claim number
    assert parse_classes('{"r": [[3, 1], 2]}', [1, 2, 3])[:2] == (["informative", "restates", "restates"],
                                                                  [None, None, 1])
    assert parse_book('{"t": [3', [3], {3})[0] == [None]
    assert parse_book('{"t": [3], "o": [3]}', [3], {3})[1] == ["conflicting_class"]


def test_books_are_packed_whole_into_calls_and_a_large_book_split_in_order():
    todo = {"a": ("qa", {f"a{i}": "x" for i in range(20)}), "b": ("qb", {f"b{i}": "x" for i in range(8)}),
            "c": ("qc", {f"c{i}": "x" for i in range(5)}), "d": ("qd", {f"d{i}": "x" for i in range(65)})}
    sequences = section_calls(todo, 30)
    assert [[[(s.book, len(s.claims)) for s in call] for call in calls] for calls in sequences] == \
        [[[("a", 20), ("b", 8)]], [[("d", 30)], [("d", 30)], [("d", 5)]], [[("c", 5)]]]
