from hypothesis import given
from hypothesis import strategies as st

from factbench.judges.parsing import (
    SAME_SENTENCE,
    ParseError,
    extract_json,
    normalise_label,
    parse_sentence_claims,
    parse_verdicts,
    parse_winner,
)


def test_extract_json_plain_fenced_embedded_and_trailing_comma():
    assert extract_json('{"a": 1}') == {"a": 1}
    assert extract_json('Here you go:\n```json\n{"a": [1, 2,],}\n```') == {"a": [1, 2]}
    assert extract_json('Sure! {"a": 2} Hope that helps.') == {"a": 2}


def test_extract_json_rejects_garbage():
    try:
        extract_json("no json here")
    except ParseError as exc:
        assert exc.kind == "invalid_json"
    else:
        raise AssertionError("expected ParseError")


def test_label_synonyms_and_modes():
    assert normalise_label("Supported.") == "supported"
    assert normalise_label("NOT_SUPPORTED") == "unsupported"
    assert normalise_label("Contradicted") == "unsupported"
    assert normalise_label("Inconclusive") == "unverifiable"
    assert normalise_label("inconclusive", mode="binary") == "unsupported"
    assert normalise_label("maybe-ish") is None
    assert normalise_label(3) is None


def test_verdicts_json_with_missing_unknown_and_extra_ids():
    text = '{"verdicts": [{"id": 1, "label": "supported"}, {"id": 3, "label": "banana"}, {"id": 9, "label": "supported"}]}'
    labels, errors = parse_verdicts(text, 3)
    assert labels == ["supported", None, None]
    assert errors == [None, "missing_label", "unknown_label"]


def test_verdicts_line_fallback():
    labels, errors = parse_verdicts("1: Supported\n2. unsupported\n3) Not enough evidence", 3)
    assert labels == ["supported", "unsupported", "unverifiable"]
    assert errors == [None, None, None]


def test_verdicts_unparseable_is_error_never_label():
    labels, errors = parse_verdicts("I cannot decide.", 2)
    assert labels == [None, None]
    assert errors == ["invalid_json", "invalid_json"]


def test_truncated_json_is_an_error():
    labels, errors = parse_verdicts('{"verdicts": [{"id": 1, "label": "supp', 2)
    assert labels == [None, None] and all(errors)


def test_truncated_json_keeps_the_finished_items_only():
    text = '{"verdicts": [{"id": 1, "label": "supported"}, {"id": 2, "label": "unsupported"}, {"id": 3, "lab'
    labels, errors = parse_verdicts(text, 3)
    assert labels == ["supported", "unsupported", None]
    assert errors == [None, None, "missing_label"]
    found, errs = parse_sentence_claims('{"sentences": [{"id": "1", "claims": ["A is B."]}, {"id": 2, "claims": ["C', [1, 2])
    assert found == {1: ["A is B."]} and errs == ["missing_sentence"]


def test_sentence_claims_json_and_missing_sentence():
    text = '{"sentences": [{"id": 1, "claims": ["A is B.", " "]}, {"id": 2, "claims": []}]}'
    found, errors = parse_sentence_claims(text, [1, 2, 3])
    assert found == {1: ["A is B."], 2: []}
    assert errors == ["missing_sentence"]


def test_sentence_claims_bullet_fallback():
    text = "Sentence 1:\n- Paris is in France.\n- Paris is a capital.\nSentence 2:\n"
    found, errors = parse_sentence_claims(text, [1, 2])
    assert found == {1: ["Paris is in France.", "Paris is a capital."], 2: []}
    assert errors == []


def test_winner():
    assert parse_winner('{"winner": "A"}') == "A"
    assert parse_winner('{"winner": "tie"}') == "tie"
    assert parse_winner("B") == "B"
    try:
        parse_winner('{"winner": "C"}')
    except ParseError:
        pass
    else:
        raise AssertionError("unknown winner must not parse")


@given(st.text(max_size=400), st.integers(min_value=0, max_value=30))
def test_verdict_parser_never_raises_and_never_invents(text, n):
    labels, errors = parse_verdicts(text, n)
    assert len(labels) == len(errors) == n
    for label, error in zip(labels, errors):
        assert (label is None) != (error is None)
        assert label in (None, "supported", "unsupported", "unverifiable")


@given(st.text(max_size=400))
def test_claim_parser_never_raises(text):
    found, errors = parse_sentence_claims(text, [1, 2, 3])
    assert set(found) <= {1, 2, 3}


# ------------------------------------------------------------------ the compact formats

def test_compact_labels_in_order():
    labels, errors = parse_verdicts('{"labels": ["supported", "Unsupported", "banana"]}', 3)
    assert labels == ["supported", "unsupported", None]
    assert errors == [None, None, "unknown_label"]
    assert parse_verdicts('```json\n{"labels": ["unverifiable"]}\n```', 1, mode="binary")[0] == ["unsupported"]


def test_compact_labels_of_the_wrong_count_are_never_aligned_by_guess():
    for text in ('{"labels": ["supported", "unsupported"]}', '{"labels": []}',
                 '{"labels": ["supported", "supported", "supported", "supported"]}'):
        labels, errors = parse_verdicts(text, 3)
        assert labels == [None, None, None] and set(errors) == {"label_count_mismatch"}


def test_compact_labels_cut_off_keep_the_finished_prefix_only():
    labels, errors = parse_verdicts('{"labels": ["supported", "unsupported", "unver', 4)
    assert labels == ["supported", "unsupported", None, None]
    assert errors == [None, None, "missing_label", "missing_label"]
    # a closed list whose object was cut off is complete: its count is checked as usual
    assert parse_verdicts('{"labels": ["supported", "unsupported"]', 2)[0] == ["supported", "unsupported"]
    assert set(parse_verdicts('{"labels": ["supported"]', 2)[1]) == {"label_count_mismatch"}


def test_compact_claims_one_list_per_sentence_in_order():
    found, errors = parse_sentence_claims('{"claims": [["A is B.", " "], [], ["C is D.", "E is F."]]}', [4, 5, 6])
    assert found == {4: ["A is B."], 5: [], 6: ["C is D.", "E is F."]} and errors == []
    found, errors = parse_sentence_claims('{"claims": [["A is B."], []]}', [4, 5, 6])
    assert found == {} and errors == ["claims_count_mismatch"] * 3
    found, errors = parse_sentence_claims('{"claims": [["A is B."], ["C is', [4, 5, 6])
    assert found == {4: ["A is B."]} and errors == ["missing_sentence", "missing_sentence"]


def test_older_id_keyed_outputs_are_still_read():
    assert parse_verdicts('{"verdicts": [{"id": 2, "label": "supported"}, {"id": 1, "label": "false"}]}', 2)[0] == \
        ["unsupported", "supported"]
    assert parse_sentence_claims('{"sentences": [{"id": 2, "claims": ["X."]}, {"id": 1, "claims": []}]}', [1, 2]) == \
        ({1: [], 2: ["X."]}, [])


@given(st.text(max_size=300), st.integers(min_value=0, max_value=8))
def test_compact_prefixed_garbage_never_invents_labels(tail, n):
    labels, errors = parse_verdicts('{"labels": [' + tail, n)
    assert len(labels) == len(errors) == n
    for label, error in zip(labels, errors):
        assert (label is None) != (error is None)


def test_winner_fallback_takes_only_a_bare_verdict():
    import pytest

    from factbench.judges.parsing import ParseError, parse_winner

    assert [parse_winner(s) for s in ("A", "Winner: B", "tie.", "Response A", "**B**")] == ["A", "B", "tie", "A", "B"]
    for prose in ("not a verdict at all", "A is better because it is longer", "I cannot decide"):
        with pytest.raises(ParseError):
            parse_winner(prose)


def test_label_letters_one_per_claim_in_order():
    assert parse_verdicts('{"labels": "SUN"}', 3) == (["supported", "unsupported", "unverifiable"], [None] * 3)
    assert parse_verdicts('{"labels": "S, u N"}', 3)[0] == ["supported", "unsupported", "unverifiable"]
    assert parse_verdicts('{"labels": "SUN"}', 3, mode="binary")[0] == ["supported", "unsupported", "unsupported"]
    labels, errors = parse_verdicts('{"labels": "SXS"}', 3)  # an unknown letter is an error, never a label
    assert labels == ["supported", None, "supported"] and errors == [None, "unknown_label", None]
    # a string of the wrong length cannot be aligned: every claim of the call is an error
    assert parse_verdicts('{"labels": "SS"}', 3) == ([None] * 3, ["label_count_mismatch"] * 3)
    # cut off by the token limit inside the string: the letters written are the first claims'
    assert parse_verdicts('{"labels": "SU', 4) == (["supported", "unsupported", None, None],
                                                   [None, None, "missing_label", "missing_label"])
    assert parse_verdicts('{"labels": "', 2) == ([None, None], ["missing_label"] * 2)


def test_an_extraction_entry_can_stand_for_its_sentence():
    found, errors = parse_sentence_claims('{"claims": ["=", [], ["A is B.", "A is C."]]}', [4, 5, 6])
    assert found == {4: [SAME_SENTENCE], 5: [], 6: ["A is B.", "A is C."]} and errors == []
    # any other bare string is not an entry: nothing is taken from that output's compact list
    assert parse_sentence_claims('{"claims": ["same", []]}', [1, 2])[0] == {}
