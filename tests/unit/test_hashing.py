"""Cache keys, memo keys and run identities hash canonical JSON: its text must never change."""

import json

from factbench.hashing import canonical_json, sha256_hex


def test_canonical_json_is_sorted_compact_unicode_json():
    values = [{"b": 1, "a": [1.5, "é", None, True], "c": {"z": "x\n", "y": float("inf")}}, ["Title", "x" * 900],
              ('q"uote', "\u2028"), "plain", 3, {1: "an int key"}, {"fallback": object}]
    for value in values:
        assert canonical_json(value) == json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                                                   default=str)
    assert canonical_json({"b": [1, 2], "a": "é"}) == '{"a":"é","b":[1,2]}'
    assert sha256_hex({"a": 1}) == sha256_hex({"a": 1}) != sha256_hex({"a": 2}) and len(sha256_hex("x", 24)) == 24


def test_hashes_of_a_few_strings_are_kept_and_equal_the_uncached_hash():
    import hashlib

    title, text = "Ada Lovelace", "Ada Lovelace wrote the first program. " * 20
    expected = hashlib.sha256(canonical_json([title, text]).encode("utf-8")).hexdigest()
    assert sha256_hex([title, text], 24) == expected[:24] and sha256_hex([title, text]) == expected
    assert sha256_hex([title, text + "."], 24) != expected[:24]
    assert sha256_hex(["a", "b", "c", "d", "e"]) == hashlib.sha256(b'["a","b","c","d","e"]').hexdigest()
