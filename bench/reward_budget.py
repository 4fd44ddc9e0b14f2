"""How many requests reach one judge endpoint when several trainer processes score at once.

A counting proxy sits in front of the scripted judge (its own latency model keeps requests in
flight for a while) and records the most requests it ever held at once. Two set-ups score the
same rollouts, W worker processes at once, each role capped at `--judge-concurrency C`:

    own     every worker builds its own Scorer: its own judge pool (verl reward workers, TRL ranks)
    service every worker sends its batches to one `factbench reward serve` (ServiceScorer)

    python bench/reward_budget.py                 # W=4, C=8
    python bench/reward_budget.py --workers 8 --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import subprocess
import sys
import threading
import time

import httpx
from aiohttp import ClientSession, web

from factbench.serving.judge_server import free_port
from factbench.testing.gpu_model import LatencyModel
from factbench.testing.scripted_server import ScriptedServer, ScriptedState


class CountingProxy:
    """Forwards chat completions to the judge and remembers the peak number in flight."""

    def __init__(self, target: str):
        self.target, self.now, self.peak, self.total = target, 0, 0, 0
        self.port = free_port()

    async def _forward(self, request: web.Request) -> web.Response:
        self.now += 1
        self.total += 1
        self.peak = max(self.peak, self.now)
        try:
            async with self._session.post(f"{self.target}/chat/completions", data=await request.read(),
                                          headers={"content-type": "application/json"}) as reply:
                return web.Response(body=await reply.read(), status=reply.status, content_type="application/json")
        finally:
            self.now -= 1

    def start(self) -> CountingProxy:
        ready = threading.Event()

        async def main() -> None:
            self._session = ClientSession()
            app = web.Application()
            app.router.add_post("/v1/chat/completions", self._forward)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", self.port, backlog=4096).start()
            ready.set()
            await asyncio.Event().wait()

        threading.Thread(target=lambda: asyncio.run(main()), daemon=True).start()
        ready.wait()
        return self

    def reset(self) -> None:
        self.peak = self.total = 0


def batch(worker: int, n: int) -> tuple[list[str], list[str]]:
    prompts = [f"Tell me about the harbour of Town{worker}x{i}." for i in range(n)]
    responses = [" ".join(f"The harbour of Town{worker}x{i} is documented in source {j}." for j in range(6))
                 for i in range(n)]
    return prompts, responses


def own_scorer(args: tuple[str, int, int, int]) -> int:
    from factbench.reward import Scorer

    url, concurrency, worker, n = args
    with Scorer(judge="openai/judge", judge_base_url=url, judge_concurrency=concurrency, use_cache=False) as scorer:
        return sum(not r.masked for r in scorer.score_sync(*batch(worker, n)))


def via_service(args: tuple[str, int, int, int]) -> int:
    from factbench.reward import ServiceScorer

    url, _, worker, n = args
    return sum(not r.masked for r in ServiceScorer(url).score_sync(*batch(worker, n)))


def run(fn, url: str, workers: int, concurrency: int, n: int, offset: int) -> tuple[int, float]:
    started = time.monotonic()
    with mp.get_context("spawn").Pool(workers) as pool:
        scored = sum(pool.map(fn, [(url, concurrency, offset + w, n) for w in range(workers)]))
    return scored, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--answers", type=int, default=32, help="answers per worker")
    args = parser.parse_args()
    # Every request holds the judge ~0.3 s: long enough for the workers' requests to overlap.
    state = ScriptedState(latency=LatencyModel(decode_s_per_token=0.01, max_seqs=4096), keep_log=False)
    with ScriptedServer(state) as judge:
        proxy = CountingProxy(judge.base_url).start()
        url = f"http://127.0.0.1:{proxy.port}/v1"
        scored, seconds = run(own_scorer, url, args.workers, args.concurrency, args.answers, 0)
        own = proxy.peak, proxy.total, scored, seconds
        proxy.reset()
        port = free_port()
        service = subprocess.Popen([sys.executable, "-m", "factbench", "reward", "serve", "--judge", "openai/judge",
                                    "--judge-base-url", url, "--judge-concurrency", str(args.concurrency),
                                    "--no-cache", "--port", str(port)], stderr=subprocess.DEVNULL,
                                   env={**os.environ})
        try:
            while True:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            proxy.reset()  # the service's start-up check
            scored, seconds = run(via_service, f"http://127.0.0.1:{port}", args.workers, args.concurrency,
                                  args.answers, 1000)
            shared = proxy.peak, proxy.total, scored, seconds
        finally:
            service.terminate()
            service.wait()
    n = args.workers * args.answers
    print(f"{args.workers} workers x {args.answers} answers, --judge-concurrency {args.concurrency} per role")
    for name, (peak, total, scored, seconds) in (("own Scorer per worker", own), ("one reward service", shared)):
        print(f"  {name:22s} peak in flight at the judge {peak:4d}  requests {total:4d}  "
              f"scored {scored}/{n}  {seconds:.1f} s")


if __name__ == "__main__":
    main()
