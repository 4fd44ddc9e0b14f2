"""`factbench reward serve` as a real process: batches over HTTP, bad requests, OpenRLHF's shape,
API keys, recovery after the judge was down, shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from factbench.reward import ServiceScorer, VerlReward
from factbench.reward.remote import ServiceError
from factbench.serving.judge_server import free_port

TEXT = ("The harbour of Lyon is documented in source {i}. Records from Atlantis mention the harbour. "
        "The museum of Lyon is documented in source {j}.")


def start_service(judge_url: str, tmp_path, *extra: str, env: dict | None = None,
                  headers: dict | None = None) -> tuple[str, subprocess.Popen]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "factbench", "reward", "serve", "--judge", "openai/judge",
                             "--judge-base-url", judge_url, "--port", str(port),
                             "--cache", str(tmp_path / "cache.sqlite"), "--records", str(tmp_path / "records"),
                             *extra], stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1, headers=headers).status_code == 200:
                return url, proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"reward service did not start: {proc.stderr.read()}")
        time.sleep(0.2)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()


@pytest.fixture
def service(server, tmp_path):
    url, proc = start_service(server.base_url, tmp_path)
    yield url, proc
    stop(proc)


def _batch(n: int, offset: int = 0) -> dict:
    return {"prompts": [f"Tell me about the harbour of Lyon, part {i}." for i in range(offset, offset + n)],
            "responses": [TEXT.format(i=i, j=i + 1) for i in range(offset, offset + n - 1)] + [""]}


def test_sixteen_items_concurrent_workers_bad_requests_and_clean_shutdown(service, server, tmp_path):
    url, proc = service
    health = httpx.get(f"{url}/health").json()
    assert health["status"] == "ok" and health["reward"]["judges"]["verifier"]["model"] == "openai/judge"

    reply = httpx.post(f"{url}/score", json=_batch(16), timeout=60)
    assert reply.status_code == 200
    body = reply.json()
    assert len(body["rewards"]) == len(body["details"]) == 16 and body["reward_id"] == health["reward_id"]
    assert all(isinstance(r, float) for r in body["rewards"]) and body["masked"] == [False] * 16
    assert body["details"][0]["n_claims"] == 3 and body["details"][0]["precision"] == pytest.approx(2 / 3)
    assert body["details"][15]["status"] == "empty" and body["rewards"][15] == 0.0

    # Several trainer workers at once: every batch answered, in its own order.
    with ThreadPoolExecutor(4) as pool:
        replies = list(pool.map(lambda k: httpx.post(f"{url}/score", json=_batch(16, 100 * k), timeout=60), range(4)))
    assert [r.status_code for r in replies] == [200] * 4
    assert all(r.json()["details"][0]["claims"][0]["text"].endswith(f"source {100 * k}.")
               for k, r in enumerate(replies))

    bad = [b"not json", b'["a list"]', b'{"prompts": ["a"]}', b'{"prompts": ["a", "b"], "responses": ["x"]}',
           b'{"prompts": ["a"], "responses": [3]}', b'{"prompts": ["a"], "responses": ["x"], "refs": ["y"]}']
    for payload in bad:
        r = httpx.post(f"{url}/score", content=payload, headers={"content-type": "application/json"})
        assert r.status_code == 400 and r.json()["error"], payload
    assert httpx.get(f"{url}/score").status_code == 405
    assert httpx.get(f"{url}/health").status_code == 200  # still serving

    # OpenRLHF's remote reward model request: {"query", "prompts", "labels"} -> {"rewards", ...}
    prompt = "<|im_start|>user\nTell me about the harbour of Lyon.<|im_end|>\n<|im_start|>assistant\n"
    r = httpx.post(f"{url}/get_reward", json={"query": [prompt + TEXT.format(i=7, j=8) + "<|im_end|>"],
                                               "prompts": [prompt], "labels": [None]}, timeout=60)
    assert r.status_code == 200
    got = r.json()
    assert got["rewards"] == got["scores"] and got["rewards"][0] > 0
    assert got["extra_logs"]["factbench_masked"] == [0.0] and got["extra_logs"]["factbench_claims"] == [3.0]
    # A query that does not begin with its prompt fails alone: masked, flagged, the other item scored.
    r = httpx.post(f"{url}/get_reward", json={"query": ["other text", prompt + TEXT.format(i=7, j=8)],
                                               "prompts": [prompt, prompt]}, timeout=60)
    assert r.status_code == 200 and r.json()["rewards"] == [0.0, got["rewards"][0]]
    assert r.json()["extra_logs"]["factbench_query_mismatch"] == [1.0, 0.0]
    assert r.json()["extra_logs"]["factbench_masked"] == [1.0, 0.0]

    # SIGTERM while a batch is being scored: that batch is still answered, then a clean exit.
    server.state.latency.decode_s_per_token = 0.02  # each judge call now takes a while
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(httpx.post, f"{url}/score", json=_batch(2, 900), timeout=60)
        while httpx.get(f"{url}/health").json()["in_flight"] == 0:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert pending.result().status_code == 200
    assert proc.wait(timeout=30) == 0
    err = proc.stderr.read()
    assert "stopping" in err and "Traceback" not in err
    records = list((tmp_path / "records").glob("rewards-*.jsonl"))
    assert len(records) == 1 and len(records[0].read_text().splitlines()) == 16 + 4 * 16 + 1 + 1 + 2


def test_malformed_bodies_get_400_with_a_reason(service):
    url, proc = service
    deep = b'{"prompts": ' + b"[" * 100_000 + b"]" * 100_000 + b', "responses": []}'
    cases = {
        deep: "nested too deeply",
        b'{"prompts": ["\\ud800 question"], "responses": ["x"]}': "prompts[0] is not valid Unicode",
        b'{"prompts": ["q"], "responses": ["\\udfff"]}': "responses[0] is not valid Unicode",
        b'{"prompts": ["q"], "responses": ["x"], "references": ["\\ud83d"]}': "references[0] is not valid Unicode",
        b'{"prompts": ["q"], "responses": [{"text": "x"}]}': "responses[0] must be a string, got an object",
        b'{"prompts": ["q"], "responses": ["x"], "references": [7]}': "references[0] must be a string or null",
        b'{"prompts": ["q"], "responses": ["x"], "references": "r"}': "'references' must be a list",
        b'{"prompts": "q", "responses": ["x"]}': "'prompts' must be a list",
    }
    for payload, reason in cases.items():
        r = httpx.post(f"{url}/score", content=payload, headers={"content-type": "application/json"})
        assert r.status_code == 400 and reason in r.json()["error"], (payload[:60], r.text[:200])
    for payload in (b'{"query": ["\\ud800"], "prompts": ["p"]}', b'{"query": [["x"]], "prompts": ["p"]}',
                    b'{"query": ["a"], "prompts": ["a", "b"]}'):
        r = httpx.post(f"{url}/get_reward", content=payload, headers={"content-type": "application/json"})
        assert r.status_code == 400 and r.json()["error"], payload
    assert httpx.get(f"{url}/health").json()["status"] == "ok"  # nothing broke
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0 and "Traceback" not in proc.stderr.read()


def test_api_key_required_when_set_and_a_public_host_refused_without_one(server, tmp_path):
    key = "s3cret-reward-key-123"
    env = {"FACTBENCH_REWARD_API_KEY": key}
    url, proc = start_service(server.base_url, tmp_path, env=env, headers={"Authorization": f"Bearer {key}"})
    try:
        batch = {"prompts": ["Tell me about Lyon."], "responses": [TEXT.format(i=1, j=2)]}
        assert httpx.post(f"{url}/score", json=batch, timeout=60).status_code == 401
        assert httpx.get(f"{url}/health").status_code == 401
        wrong = httpx.post(f"{url}/score", json=batch, headers={"Authorization": "Bearer s3cret-reward-key-12"})
        assert wrong.status_code == 401 and key not in wrong.text
        ok = httpx.post(f"{url}/score", json=batch, headers={"Authorization": f"Bearer {key}"}, timeout=60)
        assert ok.status_code == 200 and ok.json()["masked"] == [False]
        basic = httpx.post(f"{url}/score", json=batch, auth=("factbench", key), timeout=60)  # a URL's user:KEY@
        assert basic.status_code == 200

        # The trainer-side clients send the key from the environment: ServiceScorer, verl's functions.
        with pytest.raises(ServiceError, match="401"):
            ServiceScorer(url).score_sync(batch["prompts"], batch["responses"])
        os.environ["FACTBENCH_REWARD_API_KEY"] = key
        try:
            results = ServiceScorer(url).score_sync(batch["prompts"], batch["responses"])
            assert results[0].reward == ok.json()["rewards"][0] and ServiceScorer(url).spec.mu == 0.0
            verl_reward = VerlReward(service=url)
            out = asyncio.run(verl_reward.score("f", batch["responses"][0], None, {"prompt": batch["prompts"][0]}))
            assert out["score"] == results[0].reward and out["masked"] == 0.0
        finally:
            del os.environ["FACTBENCH_REWARD_API_KEY"]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert key not in proc.stderr.read()

    base = [sys.executable, "-m", "factbench", "reward", "serve", "--judge", "openai/judge", "--judge-base-url",
            server.base_url, "--port", str(free_port()), "--host", "0.0.0.0"]
    no_key = {k: v for k, v in os.environ.items() if k != "FACTBENCH_REWARD_API_KEY"}
    refused = subprocess.run(base, capture_output=True, text=True, env=no_key, timeout=60)
    assert refused.returncode == 2 and "FACTBENCH_REWARD_API_KEY" in refused.stderr
    assert "--insecure" in refused.stderr and "Traceback" not in refused.stderr


def test_service_heals_after_the_judge_was_down(tmp_path):
    """Judge killed for 12 s, then back on the same port: unmasked rewards again within 35 s, no restart."""
    judge_port = free_port()

    def judge() -> subprocess.Popen:
        p = subprocess.Popen([sys.executable, "-m", "factbench.testing.scripted_server", "--port", str(judge_port)],
                             stdout=subprocess.PIPE, text=True)
        assert "scripted server on" in p.stdout.readline()
        return p

    judge_proc = judge()
    url, proc = start_service(f"http://127.0.0.1:{judge_port}/v1", tmp_path, "--no-cache")
    try:
        def score(k: int) -> dict:
            r = httpx.post(f"{url}/score", json={"prompts": [f"Tell me about Lyon, part {k}."],
                                                 "responses": [TEXT.format(i=k, j=k + 1)]}, timeout=60)
            assert r.status_code == 200
            return r.json()

        assert score(0)["masked"] == [False]
        judge_proc.kill()
        judge_proc.wait()
        killed = time.monotonic()
        k, errors, degraded = 1, set(), False
        while time.monotonic() - killed < 12:
            out = score(k)
            k += 1
            assert out["masked"] == [True] and out["rewards"] == [None]  # masked, never a made-up 0
            errors.update(out["details"][0]["errors"])
            degraded = degraded or httpx.get(f"{url}/health").json()["status"] == "degraded"
            time.sleep(0.3)
        assert degraded and any("EndpointDown" in e for e in errors), errors
        health = httpx.get(f"{url}/health").json()
        assert health["degraded"]["extractor"]["all_down"] is True
        judge_proc = judge()
        back = time.monotonic()
        while True:
            out = score(k)
            k += 1
            if out["masked"] == [False]:
                break
            assert time.monotonic() - back < 35, "still masked 35 s after the judge came back"
            time.sleep(0.3)
        assert out["rewards"][0] > 0 and httpx.get(f"{url}/health").json()["status"] == "ok"
        assert proc.poll() is None  # the same process: it was never restarted
    finally:
        stop(proc)
        stop(judge_proc)


def test_a_busy_port_is_a_clear_error_not_a_traceback():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "factbench", "reward", "serve", "--judge", "openai/j",
                               "--judge-base-url", "http://127.0.0.1:9/v1", "--no-preflight", "--port", str(port)],
                              capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert f"cannot listen on 127.0.0.1:{port}" in proc.stderr and "Traceback" not in proc.stderr
