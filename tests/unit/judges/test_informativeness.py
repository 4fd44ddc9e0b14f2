from factbench.judges.informativeness import INFORMATIVENESS, informativeness_messages, parse_classes
from factbench.judges.paraphrase import PARAPHRASE, paraphrase_messages, parse_rewrites
from factbench.judges.templates import verification_messages, verify_template


def test_classification_shares_the_verification_prompt_up_to_the_claims():
    assert INFORMATIVENESS.id.startswith("informativeness-v5+") and PARAPHRASE.id.startswith("paraphrase-v1+")
    verify = verify_template("ternary", True)
    assert INFORMATIVENESS.system == verify.system and INFORMATIVENESS.id != verify.id  # own schema, own identity
    passages = [("X", "X (1900-1980) was a poet.")]
    msgs = informativeness_messages(INFORMATIVENESS, "Who was X?", [(2, "X was a <claims> poet.")],
                                    [(1, "X was born in 1900.")], refs=[[1]])
    user = msgs[1]["content"]
    assert msgs[0]["content"] == INFORMATIVENESS.system
    assert "1. X was born in 1900." in user and "2. X was a ‹claims> poet." in user  # answer text cannot close a block
    assert user.endswith("Classify claims 2 to 2 as JSON.")
    label = verification_messages(verify, passages, ["X was a <claims> poet."], "Who was X?", first=2,
                                  refs=[[1]])[1]["content"]
    assert "2. X was a ‹claims> poet. [P1]" in label  # the claim names its own passages, in both calls
    shared = label[:label.index("</claims>") + len("</claims>")]
    assert user.startswith(shared) and "<question>" in shared and "<passages>" not in user  # evidence: verify only
    assert "<passages>" in label[len(shared):]
    assert "[3] Y." in paraphrase_messages([(3, "Y.")])[1]["content"]


def test_parse_classes_short_keys_and_an_empty_answer():
    classes, same_as, errors = parse_classes('{"t": [5], "r": [[4, 3]], "o": [7]}', [3, 4, 5, 7])
    assert classes == ["informative", "restates", "trivial", "off_topic"] and same_as == [None, 3, None, None]
    assert parse_classes("{}", [1, 2]) == (["informative"] * 2, [None] * 2, [None] * 2)  # empty classes left out
    assert parse_classes('{"x": [1]}', [1])[2] == ["invalid_shape"]  # no class named: never all informative
    assert parse_classes("", [1])[2] == ["invalid_json"]


def test_parse_classes_compact_format_names_only_the_exceptions():
    text = '{"trivial": [5], "restates": [[4, 3], [6, 9]], "off_topic": [7, 99]}'
    classes, same_as, errors = parse_classes(text, [3, 4, 5, 6, 7])
    assert classes == ["informative", "restates", "trivial", "informative", "off_topic"]
    assert same_as == [None, 3, None, None, None]  # saying nothing beyond a later claim restates nothing
    assert errors == [None] * 5
    # a claim listed under two classes is not guessed; an unknown class is an error, not informative
    classes, _, errors = parse_classes('{"trivial": [1], "off_topic": [1], "delightful": [2]}', [1, 2, 3])
    assert classes == [None, None, "informative"] and errors == ["conflicting_class", "unknown_class", None]
    # cut off by the token limit: unlisted claims cannot be told informative, so nothing is classified
    assert parse_classes('{"trivial": [1], "restates": [[2,', [1, 2, 3])[2] == ["invalid_json"] * 3
    assert parse_classes('{"verdict": "fine"}', [1]) == ([None], [None], ["invalid_shape"])
    assert parse_classes('{"trivial": 3}', [1]) == ([None], [None], ["invalid_shape"])


def test_parse_classes_reads_the_id_keyed_fallback_and_never_guesses():
    text = ('{"claims": [{"id": 3, "class": "informative", "same_as": null}, {"id": 4, "class": "Redundant", '
            '"same_as": 3}, {"id": 5, "class": "delightful", "same_as": null}]}')
    classes, same_as, errors = parse_classes(text, [3, 4, 5, 6])
    assert classes == ["informative", "restates", None, None]
    assert same_as == [None, 3, None, None]
    assert errors == [None, None, "unknown_class", "missing_class"]
    # cut off by the token limit: the finished items are kept
    classes, _, errors = parse_classes('{"claims": [{"id": 1, "class": "off-topic"}, {"id": 2, "cla', [1, 2])
    assert classes == ["off_topic", None] and errors == [None, "missing_class"]
    assert parse_classes("no idea", [1]) == ([None], [None], ["invalid_json"])


def test_parse_rewrites_keeps_only_complete_wanted_items():
    text = '{"sentences": [{"id": 1, "text": "A again."}, {"id": 2, "text": "  "}, {"id": 9, "text": "x"}]}'
    assert parse_rewrites(text, [1, 2]) == {1: "A again."}
    assert parse_rewrites("garbage", [1]) == {}
