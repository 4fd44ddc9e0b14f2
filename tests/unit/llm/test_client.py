import asyncio
import time

import pytest

from factbench.llm.client import LLMClient, LLMError, RoleSpec, redact
from factbench.serving.judge_server import free_port
from factbench.testing.scripted_server import Fault, ScriptedServer, ScriptedState

MSG = [{"role": "user", "content": "Tell me about Paris."}]


def _client(*urls, **kw):
    spec = RoleSpec(role="model", model="openai/m", base_urls=tuple(urls), **kw)
    return LLMClient(spec, None, backoff_base_s=0.01, backoff_cap_s=0.05)


def test_retries_server_errors_then_succeeds(server):
    server.state.faults = [Fault("status:500", times=2)]
    c = _client(server.base_url)
    out = asyncio.run(c.complete(MSG, template="g"))
    assert out.text
    assert c.stats.retries == 2 and c.stats.errors["server_error"] == 2
    assert server.state.requests["generate"] == 3


def test_retry_after_is_honoured(server):
    server.state.faults = [Fault("retry_after:0.3")]
    c = _client(server.base_url)
    start = time.monotonic()
    asyncio.run(c.complete(MSG, template="g"))
    assert time.monotonic() - start >= 0.3
    assert c.stats.errors["rate_limit"] == 1


def test_bounded_retries_raise_counted_error(server):
    server.state.faults = [Fault("status:503", times=10)]
    c = _client(server.base_url, max_retries=2)
    with pytest.raises(LLMError) as info:
        asyncio.run(c.complete(MSG, template="g"))
    assert info.value.kind == "server_error"
    assert server.state.requests["generate"] == 3


def test_bad_request_is_not_retried(server):
    server.state.faults = [Fault("status:400", times=5)]
    c = _client(server.base_url)
    with pytest.raises(LLMError) as info:
        asyncio.run(c.complete(MSG, template="g"))
    assert info.value.kind == "bad_request"
    assert server.state.requests["generate"] == 1


def test_timeout_then_success(server):
    server.state.faults = [Fault("sleep:2")]
    c = _client(server.base_url, timeout_s=0.5)
    out = asyncio.run(c.complete(MSG, template="g"))
    assert out.text and c.stats.errors["timeout"] == 1


def test_empty_content_is_retried_not_returned(server):
    server.state.faults = [Fault("empty")]
    c = _client(server.base_url)
    out = asyncio.run(c.complete(MSG, template="g"))
    assert out.text and c.stats.errors["empty_response"] == 1


def test_structured_output_is_requested(server):
    c = _client(server.base_url)
    schema = {"type": "object", "properties": {"x": {"type": "string"}}, "required": ["x"]}
    asyncio.run(c.complete(MSG, template="g", schema=schema, schema_name="thing"))
    fmt = server.state.log[-1]["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["schema"] == schema


def _dead_url() -> str:
    return f"http://127.0.0.1:{free_port()}/v1"


def test_failover_to_healthy_replica(server):
    c = _client(_dead_url(), server.base_url, max_concurrency=4)

    async def many():
        return await asyncio.gather(*(c.complete([{"role": "user", "content": f"q{i}"}], template="g")
                                      for i in range(20)))

    results = asyncio.run(many())
    assert len(results) == 20 and all(r.text for r in results)
    assert server.state.requests["generate"] == 20
    assert c.stats.errors["connection"] >= 1


def test_least_outstanding_spreads_over_replicas():
    a, b = ScriptedServer(ScriptedState()), ScriptedServer(ScriptedState())
    with a, b:
        a.state.faults = [Fault("sleep:0.2", times=100)]
        b.state.faults = [Fault("sleep:0.2", times=100)]
        c = _client(a.base_url, b.base_url, max_concurrency=5)

        async def many():
            await asyncio.gather(*(c.complete([{"role": "user", "content": f"q{i}"}], template="g")
                                   for i in range(10)))

        asyncio.run(many())
        assert a.state.requests["generate"] == 5 and b.state.requests["generate"] == 5


def test_endpoint_dies_mid_run():
    a, b = ScriptedServer(ScriptedState()), ScriptedServer(ScriptedState())
    a.start()
    b.start()
    try:
        c = _client(a.base_url, b.base_url, max_concurrency=2)

        async def scenario():
            first = await asyncio.gather(*(c.complete([{"role": "user", "content": f"a{i}"}], template="g")
                                           for i in range(6)))
            a.stop()  # replica A goes away mid-run
            second = await asyncio.gather(*(c.complete([{"role": "user", "content": f"b{i}"}], template="g")
                                            for i in range(6)))
            return first + second

        results = asyncio.run(scenario())
        assert len(results) == 12 and all(r.text for r in results)
        assert b.state.requests["generate"] >= 6
    finally:
        b.stop()


def test_missing_key_variable_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    with pytest.raises(LLMError, match="NO_SUCH_KEY_VAR is not set"):
        LLMClient(RoleSpec(role="model", model="openai/m", api_key_env="NO_SUCH_KEY_VAR"), None)


def test_redact_removes_secret_values(monkeypatch):
    monkeypatch.setenv("MY_API_KEY", "sk-canary-1234567890")
    assert redact("failed with sk-canary-1234567890 in url") == "failed with <MY_API_KEY> in url"
    monkeypatch.setenv("JUDGE_CRED", "cred-canary-0987654321")  # a name that does not look secret
    LLMClient(RoleSpec(role="verifier", model="openai/j", api_key_env="JUDGE_CRED"), None)
    assert redact("oops cred-canary-0987654321") == "oops <JUDGE_CRED>"


def test_extra_headers_go_as_headers_never_in_the_request_body(server):
    c = _client(server.base_url)
    asyncio.run(c._direct.acompletion(model="openai/m", messages=MSG, api_base=server.base_url, api_key=None,
                                      timeout=10, extra_headers={"Authorization": "Basic c2VjcmV0LXVzZXI6cHc="}))
    body = server.state.log[-1]
    assert "extra_headers" not in body and "c2VjcmV0LXVzZXI6cHc=" not in str(body)
