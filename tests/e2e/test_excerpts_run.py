"""`factbench run` with corpus evidence judges each claim on sentence excerpts of its own passages:
the sentence that states its fact is shown (even from a lower-ranked paragraph), paragraphs are
never sent whole, and a changed excerpt rule never reuses a remembered verdict."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import write_longfact_fixture

from factbench.cli.main import main
from factbench.evidence.corpus import PassageStore
from factbench.evidence.excerpts import split_sentences
from factbench.stages import verify
from factbench.testing.extra_kinds import claims_with_refs, passages_of
from factbench.testing.scripted_server import ScriptedServer, ScriptedState, request_kind

FILLER = ["Contemporary reviews were mixed, although later critics were kinder.",
          "Much of the surviving correspondence is held in regional archives.",
          "Historians have since returned to this part of the story with new sources."]
PAGE = [
    "Ada Quill was a glass maker from Tarrow. She was born in Tarrow in 1901, the daughter of a printer. "
    f"Her childhood was spent near the harbour. {FILLER[0]} The family moved often in those years. {FILLER[1]}",
    f"{FILLER[2]} Quill studied chemistry at Lenfield College. In 1930 she married Tomas Brinn, a sailor. "
    f"The couple had two children. {FILLER[0]} Their house in Tarrow still stands. {FILLER[1]}",
    f"Quill founded the Tarrow Glass Works in 1934. {FILLER[2]} The works employed forty people by 1940. "
    f"She won the Merrit Prize in 1951 for her work on coloured glass. {FILLER[1]} She died in Lenfield in 1977.",
]
OTHER = [("Tomas Brinn", ["Tomas Brinn was a sailor from Lenfield. He married Ada Quill in 1930."]),
         ("Lenfield College", ["Lenfield College teaches chemistry and glass making. It was founded in 1850."])]
# answer sentence (one claim each) -> the page sentence that states it (None: false or hedged)
ANSWER = {
    "Ada Quill was born in Tarrow in 1901.": "She was born in Tarrow in 1901, the daughter of a printer.",
    "Ada Quill studied chemistry at Lenfield College.": "Quill studied chemistry at Lenfield College.",
    "Ada Quill married Tomas Brinn in 1930.": "In 1930 she married Tomas Brinn, a sailor.",
    "Ada Quill founded the Tarrow Glass Works in 1934.": "Quill founded the Tarrow Glass Works in 1934.",
    "Ada Quill won the Merrit Prize in 1951.": "She won the Merrit Prize in 1951 for her work on coloured glass.",
    "Ada Quill died in Lenfield in 1977.": "She died in Lenfield in 1977.",
    "Records from Atlantis mention Ada Quill as a sailor.": None,
    "Perhaps Ada Quill kept a diary of her travels.": None,
}


def _supports(claim: str, texts: list[str]) -> bool:
    source = ANSWER.get(claim)
    return source is None or any(source in t for t in texts)


@pytest.fixture
def setup(tmp_path: Path):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=1)
    responses = tmp_path / "responses.jsonl"
    responses.write_text(json.dumps({"id": "topic0-00", "response": " ".join(ANSWER)}) + "\n")
    corpus = tmp_path / "corpus.db"
    PassageStore.build(corpus, [("Ada Quill", PAGE), *OTHER])
    with ScriptedServer(ScriptedState(supports=_supports)) as server:
        def run(run_id: str) -> Path:
            assert main(["run", "--tasks", "longfact-objects", "--responses", str(responses), "--data-dir", str(data),
                         "--results-dir", str(tmp_path / "res"), "--run-id", run_id, "--evidence", f"corpus:{corpus}",
                         "--judge", "openai/judge", "--judge-base-url", server.base_url, "--no-progress",
                         "--no-relevance"]) == 0
            return tmp_path / "res" / run_id
        yield server, run


def _verify_prompts(server) -> list[str]:
    return [b["messages"][1]["content"] for b in server.state.log if request_kind(b) == "verify"]


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def test_each_claim_is_judged_on_excerpts_that_hold_its_source_sentence(setup):
    server, run = setup
    out = run("a")
    (verdicts,) = _lines(out / "verdicts.jsonl")
    assert verdicts["labels"] == ["supported"] * 6 + ["unsupported", "unverifiable"]
    assert verdicts["verifier"].startswith("verify-ternary-evidence-v6+")
    (evidence,) = _lines(out / "evidence.jsonl")
    assert evidence["backend"].endswith("?k=10")
    (prompt,) = _verify_prompts(server)
    entries = passages_of(prompt)
    assert not any(f in t for f in FILLER for t in entries.values())  # no sentence that bears on no claim
    for k, (_, claim, refs) in enumerate(claims_with_refs(prompt)):
        own = {s for j in evidence["per_claim"][k] for s in split_sentences(evidence["passages"][j]["text"])}
        assert refs, claim
        for r in refs:  # one or two sentences (a sentence that says "she" brings the one before it)
            sentences = split_sentences(entries[r])
            assert 1 <= len(sentences) <= 2 and set(sentences) <= own, (claim, entries[r])
        source = ANSWER[claim]
        assert source is None or any(source in entries[r] for r in refs), claim
    # each sentence is in the block once, under a line naming its page
    block = prompt.split("<passages>\n")[1].split("\n</passages>")[0].splitlines()
    assert block[0] == "From Ada Quill:" and len(entries) == len(set(entries.values()))


def test_a_changed_excerpt_rule_never_reuses_a_remembered_verdict(setup, monkeypatch):
    server, run = setup
    first = json.loads((run("a") / "summary.json").read_text())["memo"]
    assert first["verdicts_misses"] == 8
    server.state.log.clear()
    again = json.loads((run("b") / "summary.json").read_text())["memo"]
    assert again["verdicts_hits"] == 8 and not _verify_prompts(server)  # the same excerpts: remembered
    monkeypatch.setattr(verify, "MAX_CLAIM_EXCERPTS", 1)
    server.state.log.clear()
    changed = json.loads((run("c") / "summary.json").read_text())["memo"]
    # every claim that had two excerpts is shown one now: those are judged again, the rest reused
    (prompt,) = _verify_prompts(server)
    asked = {claim for _, claim, _ in claims_with_refs(prompt)}
    assert changed["verdicts_misses"] == len(asked) > 0 and changed["verdicts_hits"] == 8 - len(asked)
