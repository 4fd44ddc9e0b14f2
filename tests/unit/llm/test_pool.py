"""Endpoint pool: cancellation-safe waiting, the circuit breaker, adaptive request timeouts."""

import asyncio
import time

import pytest

from factbench.llm import pool as pool_module
from factbench.llm import timeouts
from factbench.llm.client import LLMClient, RoleSpec
from factbench.llm.pool import FAILED, OK, UNREACHABLE, EndpointDown, EndpointPool
from factbench.llm.timeouts import AdaptiveTimeout
from factbench.serving.judge_server import free_port
from factbench.testing.scripted_server import Fault

MSG = [{"role": "user", "content": "Tell me about Paris."}]


def test_cancelled_waiters_leave_the_pool_consistent():
    async def scenario():
        pool = EndpointPool(("http://a",), cap=1)
        held = await pool.acquire()
        waiters = [asyncio.ensure_future(pool.acquire()) for _ in range(20)]
        await asyncio.sleep(0.01)
        for w in waiters[:10]:
            w.cancel()
        pool.release(held, OK)
        await asyncio.sleep(0.05)
        assert all(w.cancelled() for w in waiters[:10])  # never "Lock is not acquired"
        got = [w.result() for w in waiters[10:] if w.done()]
        assert len(got) == 1 and pool.endpoints[0].in_flight == 1  # the endpoint went to one live waiter
        for w in waiters:
            w.cancel()
        results = await asyncio.gather(*waiters, return_exceptions=True)
        assert all(isinstance(r, asyncio.CancelledError) for r in results if isinstance(r, BaseException))
        assert not pool._waiters
        pool.release(got[0], OK)
        assert (await pool.acquire()) is pool.endpoints[0]

    asyncio.run(scenario())


def test_breaker_opens_after_consecutive_unreachable_over_the_window():
    pool = EndpointPool(("http://user:pw@judge:8000/v1",), cap=4, role="verifier", breaker_failures=3,
                        breaker_seconds=0.0)

    async def fail(outcome):
        e = await pool.acquire()
        pool.release(e, outcome, "Connection error.")

    asyncio.run(fail(UNREACHABLE))
    asyncio.run(fail(FAILED))  # the server answered (a 500): it is alive, the streak restarts
    asyncio.run(fail(UNREACHABLE))
    asyncio.run(fail(UNREACHABLE))
    pool.check()
    asyncio.run(fail(UNREACHABLE))
    with pytest.raises(EndpointDown) as info:
        pool.check()
    message = str(info.value)
    assert "verifier" in message and "http://judge:8000/v1" in message and "pw" not in message
    assert "3 connection failures/timeouts in a row" in message


def test_breaker_needs_the_failures_to_span_its_window():
    pool = EndpointPool(("http://a",), cap=64, breaker_failures=3, breaker_seconds=60.0)

    async def burst():
        held = [await pool.acquire() for _ in range(30)]
        for e in held:
            pool.release(e, UNREACHABLE, "reset")

    asyncio.run(burst())  # 30 failures within a second: a blip, not a dead server
    pool.check()


def test_one_dead_replica_does_not_stop_the_role():
    pool = EndpointPool(("http://dead", "http://alive"), cap=4, breaker_failures=2, breaker_seconds=0.0)
    dead, alive = pool.endpoints

    async def scenario():
        for _ in range(3):
            dead.in_flight += 1  # as if acquired
            pool.release(dead, UNREACHABLE, "refused")
        pool.check()  # the other replica still answers
        chosen = await pool.acquire()
        assert chosen is alive
        pool.release(chosen, OK)

    asyncio.run(scenario())
    assert dead.down and not alive.down


def test_client_against_a_dead_endpoint_stops_with_endpoint_down():
    url = f"http://127.0.0.1:{free_port()}/v1"
    client = LLMClient(RoleSpec(role="verifier", model="openai/j", base_urls=(url,), max_retries=50),
                       None, backoff_base_s=0.01, backoff_cap_s=0.02)
    client._pool = EndpointPool((url,), 4, "verifier", breaker_failures=4, breaker_seconds=0.2)
    with pytest.raises(EndpointDown, match=url):
        asyncio.run(client.complete(MSG, template="g"))
    assert client.stats.errors["connection"] >= 4
    assert client.stats.errors["connection"] < 50  # stopped by the breaker, not by running out of retries


def test_timeout_limit_follows_the_server():
    t = AdaptiveTimeout(cap_s=180.0, max_tokens=2048)
    assert t.limit() == pytest.approx(timeouts.COLD_BASE_S + timeouts.COLD_S_PER_TOKEN * 2048)
    for _ in range(timeouts.WARMUP):
        t.observe(0.2)
    assert t.limit() == timeouts.FLOOR_S  # a fast server: a hang costs the floor, not minutes
    for _ in range(timeouts.WINDOW):
        t.observe(10.0)
    assert t.limit() == pytest.approx(timeouts.FACTOR * 10.0)
    assert t.limit(timeouts_before=1) == pytest.approx(2 * timeouts.FACTOR * 10.0)  # a retry gets longer
    assert t.limit(timeouts_before=5) == 180.0  # never past the cap
    assert AdaptiveTimeout(cap_s=0.5).limit() == 0.5


def test_a_long_prompt_gets_longer_until_the_servers_speed_is_known():
    t = AdaptiveTimeout(cap_s=600.0, max_tokens=400)
    cold = timeouts.COLD_BASE_S + timeouts.COLD_S_PER_TOKEN * 400
    assert t.limit(prompt_tokens=1500) == pytest.approx(cold + timeouts.COLD_S_PER_PROMPT_TOKEN * 1500)
    assert t.limit(prompt_tokens=1500) > t.limit() + 60  # a judge prompt read at 25 tokens/s fits
    assert timeouts.prompt_tokens([{"role": "user", "content": "x" * 4000}]) == 1000
    for _ in range(timeouts.WARMUP):
        t.observe(10.0)
    assert t.limit(prompt_tokens=1500) == t.limit() == pytest.approx(timeouts.FACTOR * 10.0)  # now measured


def test_a_hung_request_costs_seconds_not_the_cap(server, monkeypatch):
    monkeypatch.setattr(timeouts, "FLOOR_S", 0.5)
    client = LLMClient(RoleSpec(role="model", model="openai/m", base_urls=(server.base_url,), timeout_s=300.0,
                                params={"max_tokens": 2048}), None, backoff_base_s=0.01, backoff_cap_s=0.02)
    # The very first request hangs; it was sent while the server's speed was unknown (a cold limit
    # of over 100 s), and is cut short once the requests beside it show the server is fast.
    # The hang is long enough that a loaded machine (slower requests beside it, so a longer limit:
    # eight times their median) still cuts it short.
    server.state.faults = [Fault("sleep:15", times=1)]

    async def many():
        return await asyncio.gather(*(client.complete([{"role": "user", "content": f"q{i}"}], template="g")
                                      for i in range(30)))

    started = time.monotonic()
    out = asyncio.run(many())
    assert all(c.text for c in out)
    assert client.stats.errors["timeout"] == 1
    assert time.monotonic() - started < 10  # the hang (15 s) was not waited for, let alone the cold limit


def test_recovering_pool_fails_fast_while_down_then_probes_once_and_heals(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(pool_module.time, "monotonic", lambda: clock[0])
    pool = EndpointPool(("http://judge",), cap=8, role="verifier", breaker_failures=2, breaker_seconds=0.0,
                        recover=True)

    async def scenario():
        for _ in range(2):
            pool.release(await pool.acquire(), UNREACHABLE, "refused")
        assert pool.endpoints[0].down and pool.degraded() == {"down": ["http://judge"], "cooling": [],
                                                              "all_down": True}
        with pytest.raises(EndpointDown):  # inside the cool-down: masked at once, no request sent
            await pool.acquire()
        clock[0] += pool_module.PROBE_FIRST_S
        probe = await pool.acquire()  # half-open: exactly one probe goes out
        with pytest.raises(EndpointDown):
            await pool.acquire()
        pool.release(probe, UNREACHABLE, "refused")  # still dead: the next probe waits twice as long
        clock[0] += pool_module.PROBE_FIRST_S
        with pytest.raises(EndpointDown):
            await pool.acquire()
        clock[0] += pool_module.PROBE_FIRST_S
        pool.release(await pool.acquire(), OK)  # the judge answers: back for everyone
        assert pool.degraded() is None
        held = [await pool.acquire() for _ in range(8)]
        assert all(e is pool.endpoints[0] for e in held)

    asyncio.run(scenario())


def test_probe_backoff_is_capped_and_a_run_still_stops(monkeypatch):
    clock = [0.0]
    monkeypatch.setattr(pool_module.time, "monotonic", lambda: clock[0])
    recovering = EndpointPool(("http://a",), cap=1, breaker_failures=1, breaker_seconds=0.0, recover=True)
    run = EndpointPool(("http://a",), cap=1, breaker_failures=1, breaker_seconds=0.0)

    async def scenario():
        for _ in range(12):  # many failed probes: the wait never exceeds DOWN_COOL_S
            clock[0] += pool_module.DOWN_COOL_S
            recovering.release(await recovering.acquire(), UNREACHABLE, "refused")
        assert recovering.endpoints[0].cool_until - clock[0] == pool_module.DOWN_COOL_S
        run.release(await run.acquire(), UNREACHABLE, "refused")
        clock[0] += 10 * pool_module.DOWN_COOL_S
        with pytest.raises(EndpointDown):  # a CLI run stops as before: no probe, no waiting
            await run.acquire()

    asyncio.run(scenario())
