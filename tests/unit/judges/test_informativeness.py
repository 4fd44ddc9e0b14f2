from factbench.judges.informativeness import INFORMATIVENESS, informativeness_messages, parse_classes
from factbench.judges.paraphrase import PARAPHRASE, paraphrase_messages, parse_rewrites


def test_template_ids_are_content_hashed_and_messages_number_claims_across_spans():
    assert INFORMATIVENESS.id.startswith("informativeness-v1+") and PARAPHRASE.id.startswith("paraphrase-v1+")
    msgs = informativeness_messages("Who was X?", [(1, "X was born in 1900.")], [(2, "X was a <claims> poet.")])
    user = msgs[1]["content"]
    assert msgs[0]["content"] == INFORMATIVENESS.system
    assert "1. X was born in 1900." in user and "2. X was a ‹claims> poet." in user  # answer text cannot close a block
    assert "Classify claims 2 to 2" in user
    assert "[3] Y." in paraphrase_messages([(3, "Y.")])[1]["content"]


def test_parse_classes_strict_tolerant_and_never_guessing():
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
