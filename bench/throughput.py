"""Throughput benchmark: factbench against a simulated vLLM-like judge over real HTTP.

Scores pre-generated answers (~25 one-fact sentences each, evidence for every claim from a
local passage store) with the scripted server as extractor and verifier. The server runs in
its own process with a latency model: prefill seconds per 1k input tokens (minus a prefix-cache
discount), decode seconds per output token, at most `max_seqs` sequences at once (a queue
beyond), all divided by `speed` for quick runs.

Prints: wall time, judge requests / answer, input tokens / answer (total, shared prefix, not
shared), output tokens / answer, wall / floor (floor = simulated server work / max_seqs),
harness CPU ms / claim and peak RSS; then peak RSS of a streamed run of many answers.

    python bench/throughput.py                     # the figures the README quotes
    python bench/throughput.py --answers 50 --speed 50 --stream-answers 1000   # a quick look
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

WORDS = ("river harbour castle bridge museum library station garden temple market tower canal "
         "cathedral fortress palace academy theatre observatory lighthouse monastery").split()


def _answer(i: int, n_claims: int) -> str:
    return " ".join(f"The {WORDS[j % len(WORDS)]} of Town{i} was completed in {1800 + (i * 7 + j) % 200} "
                    f"by builder{(i + j) % 97}." for j in range(n_claims))


def _write_inputs(root: Path, n_answers: int, n_claims: int) -> tuple[Path, Path]:
    from factbench.evidence.corpus import PassageStore

    responses = root / "responses.jsonl"
    with responses.open("w") as fh:
        for i in range(n_answers):
            fh.write(json.dumps({"task": "bench", "id": f"a{i:05d}", "response": _answer(i, n_claims)}) + "\n")
    # Wikipedia-like passages of ~150 words (~200 tokens): one fact each, the rest context.
    filler = ("The surrounding district grew around the old market square during the following decades, and "
              "local histories describe several restorations, a period of decline after the railway bypassed "
              "the town, and renewed interest from visitors in the late twentieth century. ") * 3
    docs = ((f"Town{i}", [f"Town{i} has a {WORDS[j % len(WORDS)]} completed in {1800 + (i * 7 + j) % 200} "
                          f"by builder{(i + j) % 97}, restored later and listed as a heritage site. " + filler
                          for j in range(n_claims)])
            for i in range(n_answers))
    corpus = root / "corpus.db"
    PassageStore.build(corpus, docs, passage_words=256)
    return responses, corpus


def _serve(port: int, latency: dict) -> None:
    from factbench.testing.scripted_server import LatencyModel, ScriptedServer, ScriptedState

    state = ScriptedState(latency=LatencyModel(**latency), keep_log=False)
    ScriptedServer(state, port=port).start()
    while True:
        time.sleep(3600)


def _warm_up() -> None:
    from factbench.llm.client import _litellm
    from factbench.stages.claims import split_sentences

    _litellm()
    split_sentences("Warm up the sentencizer. Twice.")


def run_once(n_answers: int, n_claims: int, latency: dict, concurrency: int, quiet: bool = True) -> dict:
    from factbench.llm.cache import CallCache
    from factbench.llm.client import RoleSpec
    from factbench.pipeline.runner import Runner, RunSettings
    from factbench.serving.judge_server import free_port
    from factbench.tasks import Prompt, Task

    port = free_port()
    server = mp.get_context("spawn").Process(target=_serve, args=(port, latency), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{port}/v1"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            responses, corpus = _write_inputs(root, n_answers, n_claims)
            prompts = [Prompt(id=f"a{i:05d}", text=f"Tell me about the landmarks of Town{i}.", topic=f"Town{i}")
                       for i in range(n_answers)]
            task = Task(name="bench", version="1", loader=lambda ctx: prompts, k=25)
            judge = {"model": "openai/sim-judge", "base_urls": (url,), "max_concurrency": concurrency,
                     "params": {"temperature": 0.0, "max_tokens": 2048}}
            roles = {r: RoleSpec(role=r, **judge) for r in ("extractor", "verifier")}
            settings = RunSettings(run_id="bench", results_dir=str(root / "results"), evidence=f"corpus:{corpus}#topic",
                                   responses=str(responses), relevance=False, progress=not quiet)
            runner = Runner(settings, roles, [task], CallCache(root / "cache.sqlite"))
            _warm_up()  # one-off import costs (litellm ~3 s, spaCy) are not per-claim work
            cpu0, wall0 = time.process_time(), time.perf_counter()
            summary = runner.run()
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            stats = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/stats").read())
    finally:
        server.terminate()
        server.join()
    n_req = sum(stats["requests"].values())
    claims = summary.overall.n_claims
    floor = stats["work_seconds"] / stats["max_seqs"]
    return {
        "answers": n_answers, "claims": claims, "wall_s": wall, "requests_per_answer": n_req / n_answers,
        "input_tokens_per_answer": stats["input_tokens"] / n_answers,
        "shared_prefix_tokens_per_answer": stats["cached_tokens"] / n_answers,
        "unshared_input_tokens_per_answer": (stats["input_tokens"] - stats["cached_tokens"]) / n_answers,
        "output_tokens_per_answer": stats["output_tokens"] / n_answers,
        "floor_s": floor, "wall_over_floor": wall / floor if floor else float("nan"),
        "harness_cpu_ms_per_claim": cpu * 1000 / max(1, claims),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "failed_samples": summary.errors.failed_samples,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--answers", type=int, default=200)
    parser.add_argument("--claims", type=int, default=25)
    parser.add_argument("--prefill-s-per-1k", type=float, default=0.12, help="per sequence, 70B-class on one GPU")
    parser.add_argument("--decode-s-per-token", type=float, default=0.03)
    parser.add_argument("--max-seqs", type=int, default=64)
    parser.add_argument("--speed", type=float, default=10.0, help="divide every simulated latency by this")
    parser.add_argument("--stream-answers", type=int, default=10000)
    parser.add_argument("--stream-claims", type=int, default=5)
    parser.add_argument("--only", choices=("main", "stream"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    latency = {"prefill_s_per_1k": args.prefill_s_per_1k, "decode_s_per_token": args.decode_s_per_token,
               "max_seqs": args.max_seqs, "prefix_cache": True, "speed": args.speed}

    if args.only == "stream":  # a fresh process, so its peak RSS is its own
        fast = {**latency, "prefill_s_per_1k": 0.0, "decode_s_per_token": 0.0}
        print(json.dumps(run_once(args.stream_answers, args.stream_claims, fast, args.max_seqs)))
        return

    r = run_once(args.answers, args.claims, latency, args.max_seqs)
    print(f"\nfactbench throughput benchmark (simulated judge: prefill {args.prefill_s_per_1k}s/1k tok, "
          f"decode {args.decode_s_per_token}s/tok, {args.max_seqs} seqs, prefix cache on, speed x{args.speed:g})")
    rows = [
        ("answers x claims", f"{r['answers']} x {r['claims'] / r['answers']:.1f}"),
        ("wall time", f"{r['wall_s']:.1f} s"),
        ("floor (server work / max seqs)", f"{r['floor_s']:.1f} s"),
        ("wall / floor", f"{r['wall_over_floor']:.2f}   (target <= 1.5)"),
        ("judge requests / answer", f"{r['requests_per_answer']:.2f}   (target <= 8)"),
        ("input tokens / answer: total", f"{r['input_tokens_per_answer']:.0f}"),
        ("  shared prompt prefix", f"{r['shared_prefix_tokens_per_answer']:.0f}"),
        ("  not shared", f"{r['unshared_input_tokens_per_answer']:.0f}   (target <= 20000)"),
        ("output tokens / answer", f"{r['output_tokens_per_answer']:.0f}"),
        ("harness CPU / claim", f"{r['harness_cpu_ms_per_claim']:.2f} ms   (target <= 2)"),
        ("peak RSS", f"{r['peak_rss_mib']:.0f} MiB"),
        ("failed samples", str(r["failed_samples"])),
    ]
    if args.stream_answers:
        out = subprocess.run([sys.executable, __file__, "--only", "stream", "--stream-answers", str(args.stream_answers),
                              "--stream-claims", str(args.stream_claims), "--max-seqs", str(args.max_seqs)],
                             capture_output=True, text=True, env={**os.environ}, check=True)
        s = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append((f"streamed run: {s['answers']} answers x {s['claims'] / s['answers']:.0f} claims",
                     f"peak RSS {s['peak_rss_mib']:.0f} MiB (target < 1024), wall {s['wall_s']:.0f} s, "
                     f"CPU {s['harness_cpu_ms_per_claim']:.2f} ms/claim"))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"  {k.ljust(width)}  {v}")


if __name__ == "__main__":
    main()
