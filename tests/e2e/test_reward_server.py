"""`factbench reward serve` as a real process: batches over HTTP, bad requests, OpenRLHF's shape, shutdown."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from factbench.serving.judge_server import free_port

TEXT = ("The harbour of Lyon is documented in source {i}. Records from Atlantis mention the harbour. "
        "The museum of Lyon is documented in source {j}.")


@pytest.fixture
def service(server, tmp_path):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "factbench", "reward", "serve", "--judge", "openai/judge",
                             "--judge-base-url", server.base_url, "--port", str(port),
                             "--cache", str(tmp_path / "cache.sqlite"), "--records", str(tmp_path / "records")],
                            stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"reward service did not start: {proc.stderr.read()}")
        time.sleep(0.2)
    yield url, proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


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
    assert httpx.post(f"{url}/get_reward", json={"query": ["other text"], "prompts": [prompt]}).status_code == 400

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
    assert len(records) == 1 and len(records[0].read_text().splitlines()) == 16 + 4 * 16 + 1 + 2
