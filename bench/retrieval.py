"""Retrieval benchmark: latency and recall of the local passage store (the `corpus:` backend).

Builds a synthetic Wikipedia-like store (bench/retrieval_data.py: clustered topics, Zipf
vocabulary, 120-word passages) through the same path as `factbench corpus build`, draws
paraphrase-like claims from known passages, and reports per-claim top-5 latency (median, p95;
wall clock, best of 3 runs per claim, and the process's CPU time beside it) on a warm store
with recall@1 / recall@5 (the source passage among the first 1 / 5) for the default search
over the whole corpus and restricted to the claim's document, beside the unpruned baseline
(every posting scored) and the former query pruning. Then whole answers (25 claims) go through
the evidence backend as a run does: one call per answer, on a worker thread, with the
retrieval CPU per claim and how late the event loop wakes a 1 ms timer meanwhile (p99 and
worst, beside the same with nothing running: the machine's own noise).

    python bench/retrieval.py [--passages 200000] [--claims 1000] [--workdir DIR] [--workers N]
                              [--compare fts5,bm25s,tantivy]

With --workdir the corpus file and the store are kept there and reused by later runs.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from retrieval_data import WORDS_PER_PASSAGE, Claim, make_claims, write_corpus  # noqa: E402

from factbench.evidence.backends import CorpusEvidence  # noqa: E402
from factbench.evidence.corpus import PassageStore, content_words, iter_documents  # noqa: E402
from factbench.evidence.index_bm25 import postings_path  # noqa: E402
from factbench.store.jsonl import InputFileError  # noqa: E402
from factbench.tasks import Prompt  # noqa: E402

K = 5
CLAIMS_PER_ANSWER = 25
REPEAT = 3


def mib(*paths: Path) -> float:
    return sum(p.stat().st_size for p in paths if p.exists()) / 2**20


def read_through(path: Path) -> None:
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def measure(search: Callable[[Claim], list[str]], claims: list[Claim], targets: dict[int, str],
            repeat: int = REPEAT) -> dict:
    """Per-claim latency (the best of `repeat` runs: other people's processes on a shared machine
    only ever add to it) and the rank of the source passage; `search` returns passage texts, best first."""
    for c in claims[:20]:
        search(c)  # warm up
    ms, cpu_ms, at1, at5 = [], [], 0, 0
    for c in claims:
        wall = cpu = float("inf")
        for _ in range(repeat):
            start, cpu_start = time.perf_counter(), time.process_time()
            texts = search(c)
            wall = min(wall, (time.perf_counter() - start) * 1000)
            cpu = min(cpu, (time.process_time() - cpu_start) * 1000)
        ms.append(wall)
        cpu_ms.append(cpu)
        at1 += bool(texts) and texts[0] == targets[c.passage]
        at5 += targets[c.passage] in texts[:K]
    ms.sort()
    cpu_ms.sort()
    return {"median": statistics.median(ms), "p95": ms[int(0.95 * len(ms))], "cpu_median": statistics.median(cpu_ms),
            "cpu_p95": cpu_ms[int(0.95 * len(cpu_ms))], "r1": 100 * at1 / len(claims), "r5": 100 * at5 / len(claims)}


def line(label: str, m: dict, note: str) -> str:
    return (f"  {label:<33} median {m['median']:.2f} ms  p95 {m['p95']:.2f} ms  (CPU {m['cpu_median']:.2f} / "
            f"{m['cpu_p95']:.2f} ms)  recall@1 {m['r1']:.1f}%  recall@5 {m['r5']:.1f}%  {note}")


def old_pruning(store: PassageStore) -> Callable[[Claim], list[str]]:
    """The former query rule: the claim's six rarest words that occur in at most 1% of passages."""
    def search(c: Claim) -> list[str]:
        words = content_words(c.text)
        stats = store.terms(words)
        present = sorted((stats[w].df, w) for w in words if w in stats)
        rare = [w for df, w in present if df <= max(50, 0.01 * store.n_passages)]
        chosen = (rare or [w for _, w in present[:3]])[:6]
        return [p.text for p in store.search(" ".join(chosen), K)]
    return search


async def _stalls(work) -> tuple[list[float], object]:
    """Run `work` while a 1 ms ticker records how late the event loop wakes it (ms, sorted)."""
    late: list[float] = []
    done = False

    async def ticker() -> None:
        while not done:
            start = time.perf_counter()
            await asyncio.sleep(0.001)
            late.append((time.perf_counter() - start - 0.001) * 1000)

    tick = asyncio.create_task(ticker())
    result = await work
    done = True
    await tick
    return sorted(late) or [0.0], result


def _p99(xs: list[float]) -> float:
    return xs[min(len(xs) - 1, int(0.99 * len(xs)))]


async def answers_through_backend(path: Path, claims: list[Claim]) -> dict:
    backend = CorpusEvidence(str(path), topic=False, k=K)
    answers = [claims[i:i + CLAIMS_PER_ANSWER] for i in range(0, len(claims), CLAIMS_PER_ANSWER)]

    async def run() -> tuple[float, float]:
        cpu, wall = time.process_time(), time.perf_counter()
        for i in range(0, len(answers), 2):  # two answers in flight, as concurrent samples of a run would be
            await asyncio.gather(*(backend.retrieve([c.text for c in a], Prompt(id=str(j), text="q"), "bench")
                                   for j, a in enumerate(answers[i:i + 2])))
        return time.process_time() - cpu, time.perf_counter() - wall

    late, (cpu, wall) = await _stalls(run())
    await backend.aclose()
    idle, _ = await _stalls(asyncio.sleep(wall))  # the same time with nothing to do: the machine's own noise
    return {"retrieval_cpu_ms": 1000 * backend.cpu_seconds / len(claims), "process_cpu_ms": 1000 * cpu / len(claims),
            "wall_ms": 1000 * wall / len(claims), "stall_p99_ms": _p99(late), "stall_max_ms": late[-1],
            "idle_p99_ms": _p99(idle), "idle_max_ms": idle[-1], "answers": len(answers)}


def ensure_store(workdir: Path, n: int, rebuild: bool) -> tuple[Path, float, bool, float]:
    corpus, store = workdir / f"corpus-{n}.jsonl", workdir / f"store-{n}.db"
    if not corpus.exists():
        start = time.perf_counter()
        write_corpus(corpus, n)
        print(f"  (generated {corpus} in {time.perf_counter() - start:.0f} s)", flush=True)
    if not rebuild and store.exists():
        try:
            return store, float(PassageStore(store).meta["build_seconds"]), False, 0.0
        except InputFileError:
            pass  # an older format: build it again
    PassageStore.build(store, iter_documents(corpus), passage_words=WORDS_PER_PASSAGE)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return store, float(PassageStore(store).meta["build_seconds"]), True, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=200_000)
    parser.add_argument("--claims", type=int, default=1000)
    parser.add_argument("--workdir", help="keep the corpus and store here and reuse them")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the store even if --workdir has one")
    parser.add_argument("--workers", type=int, default=CorpusEvidence.workers,
                        help="worker threads of the corpus backend (default: the backend's own)")
    parser.add_argument("--compare", default="", help="also measure candidates: fts5, bm25s, tantivy (comma-separated)")
    args = parser.parse_args()
    CorpusEvidence.workers = args.workers
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(args.workdir or tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        print(f"\nfactbench retrieval benchmark: {args.passages:,} synthetic passages of {WORDS_PER_PASSAGE} words, "
              f"{args.claims} claims, top {K}, latency per claim best of {REPEAT} (the baseline: 1); load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
              flush=True)
        path, build_s, built_now, build_peak = ensure_store(workdir, args.passages, args.rebuild)
        store = PassageStore(path)
        when = f"peak RSS {build_peak:.0f} MiB while building" if built_now else "built by an earlier run"
        print(f"  store: built in {build_s:.0f} s ({build_s / args.passages * 1e6:.0f} s per million passages; "
              f"{when}); {mib(path, postings_path(path)):.0f} MiB on disk "
              f"(SQLite {mib(path):.0f} MiB, postings {mib(postings_path(path)):.0f} MiB)", flush=True)
        read_through(postings_path(path))  # measure a warm store: its postings in the page cache
        claims = make_claims(path, args.claims)
        targets = dict((pid, t) for pid, (_, t) in store.passages_by_id({c.passage for c in claims}).items())
        whole = measure(lambda c: [p.text for p in store.search(c.text, K)], claims, targets)
        print(line("whole corpus", whole, "(default: exact BM25 by MaxScore)"), flush=True)
        topic = measure(lambda c: [p.text for p in store.search(c.text, K, title=c.title)], claims, targets)
        print(line("one topic", topic, "(default, restricted to the claim's document)"), flush=True)
        base = measure(lambda c: [p.text for p in store.search_many([c.text], K, exhaustive=True)[0]], claims, targets,
                       repeat=1)
        print(line("compare: every posting scored", base, "(the unpruned baseline)"), flush=True)
        pruned = measure(old_pruning(store), claims, targets)
        print(line("compare: six rarest words <= 1%", pruned, "(the former query pruning)"), flush=True)
        batch = asyncio.run(answers_through_backend(path, claims))
        print(f"  answers of {CLAIMS_PER_ANSWER} claims through the corpus backend ({batch['answers']} answers, "
              f"one call each, {args.workers} worker thread(s)): retrieval CPU {batch['retrieval_cpu_ms']:.2f} ms "
              f"per claim, process CPU "
              f"{batch['process_cpu_ms']:.2f} ms per claim, wall {batch['wall_ms']:.2f} ms per claim, "
              f"event loop late by p99 {batch['stall_p99_ms']:.1f} ms, at most {batch['stall_max_ms']:.1f} ms "
              f"(idle: {batch['idle_p99_ms']:.1f} / {batch['idle_max_ms']:.1f} ms)", flush=True)
        print(f"  RSS after the queries: {rss_mib():.0f} MiB (memory-mapped index pages included)", flush=True)
        if args.compare:
            from retrieval_candidates import compare

            compare([n.strip() for n in args.compare.split(",") if n.strip()], workdir, args.passages, claims, targets,
                    measure, line)
        store.close()


if __name__ == "__main__":
    main()
