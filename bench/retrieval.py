"""Retrieval benchmark: BM25 (SQLite FTS5) per-query latency over a Wikipedia-scale passage store.

Builds a synthetic store of N passages (default 200,000, ~120 words each, Zipf-distributed
vocabulary, 20 passages per document title) and times top-5 queries of claim-like text, over
the whole corpus and restricted to one topic's document.

    python bench/retrieval.py [--passages 200000] [--queries 1000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from factbench.evidence.corpus import PassageStore


def _vocabulary(n: int, rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(3, 10))) for _ in range(n)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--words", type=int, default=120)
    args = parser.parse_args()
    rng = random.Random(0)
    vocab = _vocabulary(50_000, rng)
    cum, total = [], 0.0
    for i in range(len(vocab)):
        total += 1 / (i + 1)
        cum.append(total)
    per_doc = 20

    def docs():
        for d in range(args.passages // per_doc):
            yield f"Title {d}", [" ".join(rng.choices(vocab, cum_weights=cum, k=args.words)) for _ in range(per_doc)]

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "store.db"
        t0 = time.perf_counter()
        counts = PassageStore.build(path, docs(), passage_words=args.words)
        build_s = time.perf_counter() - t0
        store = PassageStore(path)
        queries = [" ".join(rng.choices(vocab, cum_weights=cum, k=12)) for _ in range(args.queries)]
        topics = [f"Title {rng.randrange(args.passages // per_doc)}" for _ in range(args.queries)]
        for q in queries[:20]:
            store.search(q, 5)  # warm the page cache
        timings = {"whole corpus": [], "one topic": []}
        for q, t in zip(queries, topics):
            s = time.perf_counter()
            store.search(q, 5)
            timings["whole corpus"].append((time.perf_counter() - s) * 1000)
            s = time.perf_counter()
            store.search(q, 5, title=t)
            timings["one topic"].append((time.perf_counter() - s) * 1000)
        size_mb = path.stat().st_size / 2**20
    print(f"\nfactbench retrieval benchmark: SQLite FTS5 BM25, {counts['passages']:,} passages "
          f"({args.words} words each), built in {build_s:.0f} s, {size_mb:.0f} MiB")
    for name, ms in timings.items():
        ms.sort()
        print(f"  top-5, {name:<12}  median {statistics.median(ms):.2f} ms/query, "
              f"p95 {ms[int(0.95 * len(ms))]:.2f} ms, mean {statistics.fmean(ms):.2f} ms ({len(ms)} queries)")


if __name__ == "__main__":
    main()
