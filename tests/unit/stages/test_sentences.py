import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factbench.stages import sentences
from factbench.stages.sentences import fast_split, nlp

TRICKY = ["Dr.", "Mr.", "A.", "a.", "i.", "U.S.", "etc.", "vs.", "No.", "no.", "Prize.", "Museum.", "1887.", "3.5",
          "e.g.", "Wait...", "Hi!", "Why?", "Oh?!", "USA.", "Lund.", "(born", "1950).", '"yes."', "It's", "well-known.",
          "Calif.", "Sept.", "Jan.", "x", "ok", "The", "river", "Malmö.", "Ünal.", "word,", "5%.", "co.", "Co.", "St.",
          "Yahoo!", "B12.", "x2.", "IBM.", "Mt", "ph.d.", "(", ")", '"', "-", "1", "42!", "And", "then"]


def _spacy(line: str) -> list[str]:
    return [s.text for s in nlp()(line).sents]


def _specials() -> frozenset[str]:
    nlp()
    return sentences._specials()


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TRICKY), min_size=1, max_size=12))
def test_shortcut_equals_spacy_whenever_it_answers(words):
    line = " ".join(words)
    for specials in (None, _specials()):
        fast = fast_split(line, specials)
        if fast is not None:
            assert fast == _spacy(line), (line, specials is None)


def test_shortcut_splits_plain_prose_and_leaves_the_rest_to_spacy():
    line = "Novter Lobrigal received the Lolinmi Prize. She founded the Grapornes Museum in 1886. Why? Nobody knows!"
    assert fast_split(line, _specials()) == _spacy(line) == [
        "Novter Lobrigal received the Lolinmi Prize.", "She founded the Grapornes Museum in 1886.", "Why?",
        "Nobody knows!"]
    assert fast_split(line, None) is None  # without spaCy's special cases, "Prize." is not known to be plain
    assert fast_split("Dr. Smith was born in 1950 in Ohio. He studied law.", _specials()) is None
    assert fast_split('He said "yes." Then he left.', _specials()) is None


def test_special_cases_are_kept_for_the_next_process(tmp_path, monkeypatch):
    monkeypatch.setenv("FACTBENCH_CACHE", str(tmp_path / "c" / "cache.sqlite"))
    sentences._save_specials(sorted(_specials()))
    saved = json.loads(sentences._special_path().read_text())
    assert "Dr." in saved and "Prize." not in saved


def _benchmark_lines(root) -> list[str]:
    texts = [json.loads(line)["output"] for name in ("InstructGPT", "PerplexityAI")
             for line in (root / "factscore" / "labeled_data" / f"{name}.jsonl").read_text().splitlines()]
    veriscore = root / "veriscore" / "data" / "data_sample.jsonl"
    if veriscore.exists():
        texts += [json.loads(line)["response"] for line in veriscore.read_text().splitlines()]
    alpacafact = root / "alpacafact" / "results" / "gpt4" / "model_outputs.json"
    if alpacafact.exists():
        texts += [row["output"] for row in json.loads(alpacafact.read_text())]
    return [ln.strip() for t in texts for ln in t.splitlines() if ln.strip()]


def test_shortcut_equals_spacy_on_the_benchmark_answers(shared_data):
    if not (shared_data / "factscore" / "labeled_data").is_dir():
        pytest.skip("FActScore answers not present")
    lines = _benchmark_lines(shared_data)
    answered = 0
    for line in lines:
        fast = fast_split(line, _specials())
        if fast is not None:
            answered += 1
            assert fast == _spacy(line), line
    assert answered > 0
