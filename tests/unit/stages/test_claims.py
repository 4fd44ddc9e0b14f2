import asyncio
import re

import pytest

from factbench.judges.templates import EXTRACT
from factbench.llm.client import LLMClient, RoleSpec
from factbench.llm.schema import with_item_count
from factbench.stages.claims import extract_claims, is_abstention, merge_duplicates, split_sentences
from factbench.store.records import Claim
from factbench.testing.scripted_server import request_kind


def test_split_sentences_handles_lists_headings_and_abbreviations():
    text = "## Early life\nDr. Smith was born in 1950 in Ohio. He studied law.\n- He won an award.\n2. He retired."
    assert split_sentences(text) == [
        "Early life", "Dr. Smith was born in 1950 in Ohio.", "He studied law.", "He won an award.", "He retired.",
    ]


def test_abstention_detection():
    assert is_abstention("I could not find any information about Joeri Adams. Maybe check other sources.")
    assert is_abstention("It appears there is no widely known public figure named X. Perhaps you mean Y.")
    assert not is_abstention("Joeri Adams is a Belgian cyclist. He could not find a team in 2010.")
    assert not is_abstention("")


def test_merge_exact_and_near_duplicates_but_not_different_numbers():
    claims = [Claim(text="Marie Curie won the Nobel Prize in 1903.", sentence=0),
              Claim(text="marie curie won the nobel prize in 1903", sentence=3),
              Claim(text="Marie Curie won the Nobel Prize in 1911.", sentence=4),
              Claim(text="In 1903, Marie Curie won the Nobel Prize.", sentence=5)]
    kept, merged = merge_duplicates(claims)
    assert [c.text for c in kept] == ["Marie Curie won the Nobel Prize in 1903.", "Marie Curie won the Nobel Prize in 1911."]
    assert kept[0].occurrences == 3 and kept[0].sentence == 0
    assert merged == 2


def test_extraction_chunks_sentences_keeps_indices_and_context(server):
    client = LLMClient(RoleSpec(role="extractor", model="openai/j", base_urls=(server.base_url,)), None)
    answer = " ".join(f"Fact number {i} is about topic {i}." for i in range(1, 8)) + " I think it is lovely."
    rec = asyncio.run(extract_claims(client, "t", "x", "Tell me facts.", answer, sentences_per_call=3))
    assert server.state.requests["extract"] == 3  # 8 sentences, 3 per call
    assert [c.sentence for c in rec.claims] == list(range(7))  # the opinion yields no claim
    assert rec.errors == []
    second_call = next(b["messages"][1]["content"] for b in server.state.log
                       if "[4] Fact number 4" in b["messages"][1]["content"])
    assert "Fact number 3 is about topic 3." in second_call.split("Sentences:")[0]  # context before
    assert "[4] Fact number 4" in second_call


def test_abstention_makes_no_call(server):
    client = LLMClient(RoleSpec(role="extractor", model="openai/j", base_urls=(server.base_url,)), None)
    rec = asyncio.run(extract_claims(client, "t", "x", "Q", "I'm sorry, but I can't find any information about that."))
    assert rec.abstained and rec.claims == []
    assert server.state.requests["extract"] == 0


def _extract_requests(server) -> list[tuple[int, dict]]:
    """(sentences in the call's prompt, the JSON schema it sent) of every extraction request."""
    out = []
    for body in server.state.log:
        if request_kind(body) == "extract":
            block = body["messages"][1]["content"].split("<sentences>")[1].split("</sentences>")[0]
            out.append((len(re.findall(r"^\[\d+\] ", block, re.MULTILINE)),
                        body["response_format"]["json_schema"]["schema"]))
    return out


def test_with_item_counts_each_call_sends_the_template_schema_fixed_to_its_sentence_count(server):
    spec = RoleSpec(role="extractor", model="openai/j", base_urls=(server.base_url,), schema_item_counts=True)
    answer = " ".join(f"Fact number {i} is about topic {i}." for i in range(1, 8))
    rec = asyncio.run(extract_claims(LLMClient(spec, None), "t", "x", "Tell me facts.", answer, sentences_per_call=3))
    sent = _extract_requests(server)
    assert sorted(n for n, _ in sent) == [1, 3, 3]  # 7 sentences, 3 per call
    for n, schema in sent:
        lists = schema["properties"]["claims"]
        assert lists["minItems"] == lists["maxItems"] == n
        assert schema == with_item_count(EXTRACT.schema, n)
    assert rec.errors == [] and len(rec.claims) == 7  # the parser takes the constrained answers
    # the constraint changes what the judge can answer: part of the role's identity (cache and run)
    assert spec.identity()["schema_item_counts"] is True
    assert "schema_item_counts" not in spec.model_copy(update={"schema_item_counts": False}).identity()
    assert rec.extractor == EXTRACT.id  # the judge's identity is the template's, counts or not


def test_without_item_counts_the_template_schema_is_sent_unchanged(server):
    client = LLMClient(RoleSpec(role="extractor", model="openai/j", base_urls=(server.base_url,)), None)
    asyncio.run(extract_claims(client, "t", "x", "Q", "Fact one is true. Fact two is true.", sentences_per_call=5))
    assert _extract_requests(server) == [(2, EXTRACT.schema)]
    assert "minItems" not in EXTRACT.schema["properties"]["claims"]  # the template itself is never changed


def test_an_item_count_needs_exactly_one_top_level_list():
    with pytest.raises(ValueError, match="exactly one top-level list"):
        with_item_count({"type": "object", "properties": {"a": {"type": "string"}}}, 2)
