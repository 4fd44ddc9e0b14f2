"""Reward benchmark: RL-style batches through `factbench.Scorer` against a simulated judge over real HTTP.

Each batch is 64 rollouts of ~25 one-fact sentences (fresh text every batch, so nothing comes
from the call cache). The judge is the scripted server in its own process with a vLLM-like
latency model (prefill per 1k input tokens minus a prefix-cache discount, decode per output
token, at most `max_seqs` sequences at once, all divided by `speed`).

Prints: the critical path of one batch — one extraction round, one verification round, then one
informativeness round (it follows the verification of the same claims, whose prompt prefix it
reads from the cache), computed from the latency model for the exact requests the batch sends —
batch latency p50/p95
against it (target <= 1.3x), throughput with 1 and 2 judge replicas (several trainer workers
submitting batches at once), and harness CPU per claim.

    python bench/reward.py                        # the figures docs/reward.md quotes
    python bench/reward.py --batches 4 --speed 8  # a quick look
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import statistics
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

WORDS = ("river harbour castle bridge museum library station garden temple market tower canal "
         "cathedral fortress palace academy theatre observatory lighthouse monastery").split()


def rollout(batch: int, i: int, n_claims: int) -> tuple[str, str]:
    town = f"Town{batch}x{i}"
    answer = " ".join(f"The {WORDS[j % len(WORDS)]} of {town} was completed in {1800 + (i * 7 + j) % 200} "
                      f"by builder{(i + j) % 97}." for j in range(n_claims))
    return f"Tell me about the landmarks of {town}.", answer


def batch_of(batch: int, size: int, n_claims: int) -> tuple[list[str], list[str]]:
    pairs = [rollout(batch, i, n_claims) for i in range(size)]
    return [p for p, _ in pairs], [a for _, a in pairs]


def _serve(port: int, latency: dict) -> None:
    from factbench.testing.scripted_server import LatencyModel, ScriptedServer, ScriptedState

    ScriptedServer(ScriptedState(latency=LatencyModel(**latency), keep_log=False), port=port).start()
    while True:
        time.sleep(3600)


def start_judges(n: int, latency: dict) -> tuple[list[str], list]:
    from factbench.serving.judge_server import free_port

    urls, procs = [], []
    for _ in range(n):
        port = free_port()
        proc = mp.get_context("spawn").Process(target=_serve, args=(port, latency), daemon=True)
        proc.start()
        procs.append(proc)
        for _ in range(200):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        urls.append(f"http://127.0.0.1:{port}/v1")
    return urls, procs


def critical_path(prompts: list[str], answers: list[str], latency: dict, sentences_per_call: int,
                  claims_per_call: int) -> tuple[float, dict[str, int]]:
    """max over rollouts of (slowest extraction call + slowest verification call + slowest informativeness
    call: the informativeness follows the verification, as in a run, and reads their shared prefix from the
    cache), from the latency model with the instruction prefix already cached (steady state); and the
    calls of each kind in one batch."""
    from factbench.judges.informativeness import INFORMATIVENESS_KNOWLEDGE, informativeness_messages
    from factbench.judges.templates import extraction_messages, verification_messages, verify_template
    from factbench.stages.claims import CONTEXT_AFTER, CONTEXT_BEFORE, chunks, split_sentences
    from factbench.stages.informativeness import CONTEXT_CLAIMS
    from factbench.stages.verify import batches
    from factbench.testing.scripted_server import LatencyModel, ScriptedState, approx_tokens, scripted_content

    model, state = LatencyModel(**latency), ScriptedState()

    def seconds(messages: list[dict], cached: str = "") -> float:
        """`cached`: the prompt text a prefix cache already holds (else the instructions)."""
        content = scripted_content({"messages": messages}, state)
        system = next(m["content"] for m in messages if m["role"] == "system")
        return model.seconds(sum(approx_tokens(m["content"]) for m in messages), approx_tokens(cached or system),
                             approx_tokens(content))

    template = verify_template("ternary", False)
    worst, calls = 0.0, {"extraction": 0, "verification": 0, "informativeness": 0}
    for prompt, answer in zip(prompts, answers):
        sentences = split_sentences(answer)  # the scripted extractor gives one claim per sentence
        spans = chunks(len(sentences), sentences_per_call)
        extract = max(seconds(extraction_messages(prompt, sentences[max(0, s.start - CONTEXT_BEFORE):s.start],
                                                  [(i + 1, sentences[i]) for i in s],
                                                  sentences[s.stop:s.stop + CONTEXT_AFTER])) for s in spans)
        calls_of_answer = batches(range(len(sentences)), claims_per_call)  # as verification_calls makes them
        verify = weigh = 0.0
        for s in calls_of_answer:  # an informativeness call shares its verification call's prompt up to the claims
            label = verification_messages(template, [], sentences[s.start:s.stop], prompt, first=s.start + 1)
            verify = max(verify, seconds(label))
            shared = label[0]["content"] + label[1]["content"][:label[1]["content"].index("</claims>")]
            weigh = max(weigh, seconds(informativeness_messages(
                INFORMATIVENESS_KNOWLEDGE, prompt, [(i + 1, sentences[i]) for i in s],
                [(i + 1, sentences[i]) for i in range(max(0, s.start - CONTEXT_CLAIMS), s.start)]), cached=shared))
        worst = max(worst, extract + verify + weigh)
        calls["extraction"] += len(spans)
        calls["verification"] += len(calls_of_answer)
        calls["informativeness"] += len(calls_of_answer)
    return worst, calls


def make_scorer(urls: list[str], concurrency: int, cache: Path):
    from factbench.reward import Scorer

    scorer = Scorer(judge="openai/sim-judge", judge_base_url=urls, judge_concurrency=concurrency,
                    reward_relevance="none", cache=str(cache))
    scorer.warm_up()
    return scorer


def throughput(urls: list[str], latency_args: dict, workers: int, per_worker: int, size: int, n_claims: int,
               concurrency: int, root: Path, tag: str) -> tuple[float, int]:
    """Rollouts per second with `workers` threads each scoring `per_worker` batches back to back."""
    scorer = make_scorer(urls, concurrency, root / f"cache-{tag}.sqlite")
    scorer.score_sync(*batch_of(10_000 + len(urls), 4, n_claims))  # connections and prefix cache warm
    done: list[int] = []

    def worker(w: int) -> None:
        for k in range(per_worker):
            results = scorer.score_sync(*batch_of(20_000 * len(urls) + 100 * w + k, size, n_claims))
            done.append(sum(1 for r in results if not r.masked))

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(workers)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    scorer.close()
    return sum(done) / wall, sum(done)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=10, help="timed batches (after one warm-up batch)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--claims", type=int, default=25)
    parser.add_argument("--prefill-s-per-1k", type=float, default=0.12, help="per sequence, 70B-class on one GPU")
    parser.add_argument("--decode-s-per-token", type=float, default=0.03)
    parser.add_argument("--max-seqs", type=int, default=256, help="sequences one simulated replica runs at once")
    parser.add_argument("--speed", type=float, default=2.0, help="divide every simulated latency by this")
    parser.add_argument("--workers", type=int, default=4, help="trainer workers submitting batches at once")
    parser.add_argument("--worker-batches", type=int, default=2)
    args = parser.parse_args()
    latency = {"prefill_s_per_1k": args.prefill_s_per_1k, "decode_s_per_token": args.decode_s_per_token,
               "max_seqs": args.max_seqs, "prefix_cache": True, "speed": args.speed}
    concurrency = args.max_seqs  # per endpoint: as many requests as the replica runs at once

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        urls, procs = start_judges(2, latency)
        try:
            scorer = make_scorer(urls[:1], concurrency, root / "cache.sqlite")
            scorer.score_sync(*batch_of(9_999, args.batch_size, args.claims))  # warm-up, not timed
            latencies, claims = [], 0
            cpu0 = time.process_time()
            for b in range(args.batches):
                prompts, answers = batch_of(b, args.batch_size, args.claims)
                start = time.perf_counter()
                results = scorer.score_sync(prompts, answers)
                latencies.append(time.perf_counter() - start)
                claims += sum(r.n_claims for r in results)
                assert not any(r.masked for r in results), [r.errors for r in results if r.masked][:3]
            cpu = time.process_time() - cpu0
            scorer.close()
            from factbench.stages.claims import DEFAULT_SENTENCES_PER_CALL
            from factbench.stages.verify import DEFAULT_CLAIMS_PER_CALL

            path, calls = critical_path(*batch_of(0, args.batch_size, args.claims), latency, DEFAULT_SENTENCES_PER_CALL,
                                        DEFAULT_CLAIMS_PER_CALL)  # the Scorer's
            one = throughput(urls[:1], latency, args.workers, args.worker_batches, args.batch_size, args.claims,
                             concurrency, root, "one")
            two = throughput(urls, latency, args.workers, args.worker_batches, args.batch_size, args.claims,
                             concurrency, root, "two")
        finally:
            for proc in procs:
                proc.terminate()
                proc.join()

    p50 = statistics.median(latencies)
    p95 = sorted(latencies)[max(0, round(0.95 * len(latencies)) - 1)]
    print(f"\nfactbench reward benchmark (simulated judge: prefill {args.prefill_s_per_1k}s/1k tok, decode "
          f"{args.decode_s_per_token}s/tok, {args.max_seqs} seqs per replica, prefix cache on, speed x{args.speed:g})")
    rows = [
        ("batch", f"{args.batch_size} rollouts x {claims / max(1, args.batches * args.batch_size):.1f} claims; "
                  + ", ".join(f"{n} {kind}" for kind, n in calls.items()) + " calls"),
        ("critical path (extraction, verification, informativeness)", f"{path:.2f} s   (from the latency model; "
                                                                 "informativeness follows verification)"),
        ("batch latency p50", f"{p50:.2f} s = {p50 / path:.2f} x critical path   (target <= 1.3)"),
        ("batch latency p95", f"{p95:.2f} s = {p95 / path:.2f} x critical path   (over {len(latencies)} batches)"),
        (f"throughput, 1 judge replica ({args.workers} workers)", f"{one[0]:.1f} rollouts/s "
                                                                  f"({one[0] * args.claims:.0f} claims/s)"),
        (f"throughput, 2 judge replicas ({args.workers} workers)", f"{two[0]:.1f} rollouts/s "
                                                                   f"({two[0] * args.claims:.0f} claims/s), "
                                                                   f"x{two[0] / one[0]:.2f}"),
        ("harness CPU / claim", f"{cpu * 1000 / max(1, claims):.2f} ms"),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"  {k.ljust(width)}  {v}")
    print(json.dumps({"critical_path_s": path, "p50_s": p50, "p95_s": p95, "rollouts_per_s_1": one[0],
                      "rollouts_per_s_2": two[0], "cpu_ms_per_claim": cpu * 1000 / max(1, claims)}))


if __name__ == "__main__":
    main()
