import asyncio

import pytest

from factbench.llm.client import LLMClient, RoleSpec
from factbench.llm.cost import CURRENT_LEDGER, UsageLedger, litellm_price, role_price
from factbench.pipeline.options import UsageError
from factbench.pipeline.options import prices as _prices


def test_api_models_are_priced_from_litellms_own_map_self_hosted_only_by_the_user():
    price = litellm_price("openai/gpt-4o-mini")
    assert price is not None and price.input_per_1k > 0 and price.output_per_1k > price.input_per_1k
    assert litellm_price("openai/no-such-model-here") is None
    assert role_price("openai/gpt-4o-mini", self_hosted=True, user_price=None) is None  # not the provider's price
    assert role_price("openai/judge", self_hosted=True, user_price=(0.5, 1.0)).cost(2000, 1000) == pytest.approx(2.0)


def test_price_flags_per_role():
    assert _prices("0.5", "--p") == {r: 0.5 for r in ("model", "reference", "extractor", "verifier", "relevance",
                                                      "informativeness")}
    both = _prices("1,judge=2", "--p")
    assert both["model"] == 1 and both["verifier"] == 2 and both["extractor"] == 2
    assert _prices("judge=2,1", "--p")["verifier"] == 2  # a role's own price is not overwritten by the default
    with pytest.raises(UsageError):
        _prices("verfier=1", "--p")
    with pytest.raises(UsageError):
        _prices("cheap", "--p")


def test_calls_are_charged_to_the_role_and_the_open_ledger(server):
    spec = RoleSpec(role="verifier", model="openai/j", base_urls=(server.base_url,), price_per_1k=(1.0, 2.0))
    client = LLMClient(spec, None)
    ledger = UsageLedger()

    async def call():
        token = CURRENT_LEDGER.set(ledger)
        try:
            return await client.complete([{"role": "user", "content": "hello there"}], template="t")
        finally:
            CURRENT_LEDGER.reset(token)

    done = asyncio.run(call())
    expected = (done.prompt_tokens * 1.0 + done.completion_tokens * 2.0) / 1000
    assert expected > 0 and client.stats.cost_usd == pytest.approx(expected)
    assert ledger.to_dict()["verifier"]["cost_usd"] == pytest.approx(expected)
    unpriced = LLMClient(spec.model_copy(update={"price_per_1k": None}), None)
    asyncio.run(unpriced.complete([{"role": "user", "content": "hello"}], template="t"))
    assert unpriced.stats.cost_usd is None and unpriced.stats.prompt_tokens > 0  # tokens always, dollars unknown
