"""The pieces of classification by question (stages/informativeness.py, llm/memo.py): which
claims of a question's book a new claim is shown with, and when an answer's claims are linked."""

from __future__ import annotations

from factbench.llm.memo import containers, normalise_claim
from factbench.stages.informativeness import RESTATEMENT_CANDIDATES, linked, restatement_context

QUESTION = "Tell me about Ada Quill."


def _book(*texts: str, within: dict[str, str] | None = None) -> dict[str, dict]:
    within = within or {}
    return {normalise_claim(t): {"class": "informative", "within": within.get(t) and normalise_claim(within[t]),
                                 "text": t} for t in texts}


def test_a_new_claim_is_shown_with_what_it_could_restate_and_not_with_unrelated_claims():
    book = _book("Ada Quill was born in Tarrow in 1901.", "Ada Quill married Tomas Brinn in 1930.",
                 "Ada Quill won the Merrit Prize in 1951.", "Ada Quill taught chemistry.")
    shown = restatement_context(QUESTION, {"x": "Ada Quill's birthplace was Tarrow, in 1901."}, book, 60)
    assert [text for _, text in shown] == ["Ada Quill was born in Tarrow in 1901."]
    # The question's own words (the name) are shared by every claim: they never make a candidate.
    assert restatement_context(QUESTION, {"x": "Ada Quill sang."}, book, 60) == []


def test_candidates_are_bounded_per_new_claim_and_in_all():
    book = _book(*(f"Ada Quill visited Lenfield in {1900 + k}." for k in range(10)))
    shown = restatement_context(QUESTION, {"x": "Ada Quill visited Lenfield."}, book, 60)
    assert len(shown) == RESTATEMENT_CANDIDATES
    assert len(restatement_context(QUESTION, {"x": "Ada Quill visited Lenfield."}, book, 2)) == 2


def test_linked_answers_repeat_a_claim_or_hold_a_claim_and_what_it_restates():
    a, b, c = "Ada Quill was born in 1901.", "Ada Quill's year of birth was 1901.", "Ada Quill was born in Tarrow."
    d = "In 1901 Ada Quill was born."
    book = _book(a, b, c, d, within={b: a, d: b})
    norm = normalise_claim
    assert linked(book, [norm(a), norm(b)]) and linked(book, [norm(b), norm(a)])  # either order
    assert linked(book, [norm(d), norm(a)])  # through b, which the answer does not hold
    assert linked(book, [norm(c), norm(c)])  # a repeat
    assert not linked(book, [norm(a), norm(c)])
    assert containers(book, norm(d)) == {norm(b), norm(a)}


def test_a_cycle_written_by_two_processes_ends():
    book = _book("x one", "y two", within={"x one": "y two", "y two": "x one"})
    assert containers(book, "x one") == {"y two", "x one"}
