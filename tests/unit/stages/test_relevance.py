"""The relevance stage: both orders asked, scored from the answer's side; failures are errors, not ties."""

from __future__ import annotations

import asyncio

from factbench.llm.client import LLMClient, RoleSpec
from factbench.stages.relevance import judge_relevance
from factbench.testing.scripted_server import Fault, request_kind


def _client(url: str) -> LLMClient:
    return LLMClient(RoleSpec(role="relevance", model="openai/judge", base_urls=(url,), max_retries=0), None)


def test_on_topic_answer_wins_both_orders(server):
    rec = asyncio.run(judge_relevance(_client(server.base_url), "t", "1", "Describe the volcano Etna eruption history",
                                      "Etna eruption history: the volcano erupted often.", "A recipe for bread.",
                                      "task:reference"))
    assert rec.winners == ["win", "win"] and rec.score == 1.0 and rec.errors == []
    assert server.state.requests["relevance"] == 2
    assert rec.judge.startswith("relevance-v1+")


def test_off_topic_answer_loses_and_equal_answers_tie(server):
    off = asyncio.run(judge_relevance(_client(server.base_url), "t", "1", "Describe the volcano Etna",
                                      "A recipe for bread.", "The volcano Etna is in Sicily.", "task:reference"))
    assert off.winners == ["loss", "loss"] and off.score == 0.0
    tie = asyncio.run(judge_relevance(_client(server.base_url), "t", "2", "Describe the volcano Etna",
                                      "Bread.", "Cake.", "task:reference"))
    assert tie.winners == ["tie", "tie"] and tie.score == 0.5


def test_an_unparsed_order_is_an_error_not_a_tie(server):
    server.state.faults.append(Fault("text:not a verdict at all", when=lambda b: request_kind(b) == "relevance"))
    rec = asyncio.run(judge_relevance(_client(server.base_url), "t", "1", "Describe the volcano Etna",
                                      "The volcano Etna erupts.", "Bread.", "task:reference"))
    assert rec.winners.count(None) == 1 and len(rec.errors) == 1
    assert rec.score == 1.0  # the mean of the order that parsed, never 0.5 for the failed one
