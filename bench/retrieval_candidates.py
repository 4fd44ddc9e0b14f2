"""Other retrieval engines measured on the same corpus and claims (`bench/retrieval.py --compare`).

    fts5     the former store: SQLite FTS5 (porter tokenizer) with its rare-word query pruning, and
             the same store queried with every content word (unpruned)
    bm25s    bm25s (scipy sparse matrix BM25), fed the store's own index terms
    tantivy  tantivy's Python bindings (Rust, block-max WAND), fed the store's own index terms

bm25s and tantivy are not dependencies of factbench: `pip install bm25s scipy tantivy` first.
Each engine is built once into the work folder and reused.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

from retrieval_data import WORDS_PER_PASSAGE, Claim

from factbench.evidence.corpus import chunk_words, content_words, iter_documents
from factbench.evidence.index_text import STOPWORDS, TOKEN, index_term

K = 5
_WORD = re.compile(r"\w+")


def _passages(workdir: Path, n: int) -> Iterator[tuple[int, str]]:
    pid = 0
    for _, parts in iter_documents(workdir / f"corpus-{n}.jsonl"):
        for part in parts:
            for passage in chunk_words(part, WORDS_PER_PASSAGE):
                yield pid, passage
                pid += 1


def _terms(text: str) -> list[str]:
    """Every index term of a passage, repeats included (what the store itself counts)."""
    return [t for t in map(index_term, TOKEN.findall(text.lower())) if t is not None]


def _size_mib(path: Path) -> float:
    files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 2**20


def _fts5(workdir: Path, n: int) -> tuple[float, Path]:
    path = workdir / f"fts5-{n}.db"
    if path.exists():
        conn = sqlite3.connect(path)
        return float(conn.execute("SELECT value FROM meta WHERE key = 'build_seconds'").fetchone()[0]), path
    start = time.perf_counter()
    tmp = path.with_name(path.name + ".tmp")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp)
    conn.executescript(
        "CREATE TABLE passages (id INTEGER PRIMARY KEY, text TEXT NOT NULL);"
        "CREATE VIRTUAL TABLE passages_fts USING fts5(text, content='passages', content_rowid='id',"
        " tokenize='porter unicode61');"
        "CREATE TABLE term_df (term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;"
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);")
    df: Counter[str] = Counter()
    with conn:
        for pid, text in _passages(workdir, n):
            conn.execute("INSERT INTO passages VALUES (?, ?)", (pid, text))
            df.update(set(_WORD.findall(text.lower())))
        conn.execute("INSERT INTO passages_fts(passages_fts) VALUES ('rebuild')")
        conn.executemany("INSERT INTO term_df VALUES (?, ?)", df.items())
        conn.execute("INSERT INTO meta VALUES ('build_seconds', ?)", (str(round(time.perf_counter() - start, 1)),))
    conn.close()
    tmp.replace(path)
    return time.perf_counter() - start, path


def _fts5_search(path: Path, n: int, pruned: bool) -> Callable[[Claim], list[int]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)

    def search(c: Claim) -> list[int]:
        words = list(dict.fromkeys(w for w in _WORD.findall(c.text.lower()) if len(w) > 1 and w not in STOPWORDS))
        if pruned:  # the former rule: the six rarest words present in at most 1% of passages
            marks = ",".join("?" * len(words))
            d = dict(conn.execute(f"SELECT term, df FROM term_df WHERE term IN ({marks})", words).fetchall())
            present = sorted((d[w], w) for w in words if w in d)
            words = ([w for f, w in present if f <= max(50, 0.01 * n)] or [w for _, w in present[:3]])[:6]
        if not words:
            return []
        query = " OR ".join('"' + w + '"' for w in words)
        return [r[0] for r in conn.execute("SELECT rowid FROM passages_fts WHERE passages_fts MATCH ? "
                                           "ORDER BY bm25(passages_fts) LIMIT ?", (query, K))]
    return search


def _bm25s(workdir: Path, n: int) -> tuple[float, Callable[[Claim], list[int]], float]:
    import bm25s

    folder = workdir / f"bm25s-{n}"
    if not folder.exists():
        start = time.perf_counter()
        retriever = bm25s.BM25(k1=1.2, b=0.75, method="lucene")
        retriever.index([_terms(text) for _, text in _passages(workdir, n)], show_progress=False)
        retriever.save(str(folder))
        (folder / "build_seconds.txt").write_text(f"{time.perf_counter() - start:.1f}")
    build_s, size = float((folder / "build_seconds.txt").read_text()), _size_mib(folder)
    retriever = bm25s.BM25.load(str(folder))

    def search(c: Claim) -> list[int]:
        words = [w for w in content_words(c.text) if w in retriever.vocab_dict]
        if not words:
            return []
        ids, _ = retriever.retrieve([words], k=K, show_progress=False, n_threads=1)
        return [int(i) for i in ids[0]]
    return build_s, search, size


def _tantivy(workdir: Path, n: int) -> tuple[float, Callable[[Claim], list[int]], float]:
    import tantivy

    schema_builder = tantivy.SchemaBuilder()
    schema_builder.add_text_field("body", stored=False)
    schema_builder.add_integer_field("pid", stored=True, indexed=False)
    schema = schema_builder.build()
    folder = workdir / f"tantivy-{n}"
    if not folder.exists():
        start = time.perf_counter()
        tmp = workdir / f"tantivy-{n}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        index = tantivy.Index(schema, path=str(tmp))
        writer = index.writer(heap_size=400_000_000, num_threads=1)
        for pid, text in _passages(workdir, n):
            writer.add_document(tantivy.Document(body=" ".join(_terms(text)), pid=pid))
        writer.commit()
        writer.wait_merging_threads()
        (tmp / "build_seconds.txt").write_text(f"{time.perf_counter() - start:.1f}")
        tmp.rename(folder)
    build_s = float((folder / "build_seconds.txt").read_text())
    index = tantivy.Index.open(str(folder))
    searcher = index.searcher()
    one_segment = searcher.num_segments == 1  # then a hit's document number is its passage id

    def search(c: Claim) -> list[int]:
        words = content_words(c.text)
        if not words:
            return []
        query = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "body", w)) for w in words])
        hits = searcher.search(query, K, count=False).hits
        return [addr.doc if one_segment else searcher.doc(addr)["pid"][0] for _, addr in hits]
    return build_s, search, _size_mib(folder)


def compare(names: list[str], workdir: Path, n: int, claims: list[Claim], targets: dict[int, str],
            measure: Callable, line: Callable) -> None:
    def by_id(search: Callable[[Claim], list[int]]) -> Callable[[Claim], list[str]]:
        return lambda c: [targets.get(pid, "") for pid in search(c)]

    for name in names:
        if name == "fts5":
            build_s, path = _fts5(workdir, n)
            print(f"  fts5: built in {build_s:.0f} s, {_size_mib(path):.0f} MiB", flush=True)
            for pruned in (True, False):  # unpruned takes ~0.1 s a claim at 200k: one run each
                m = measure(by_id(_fts5_search(path, n, pruned)), claims, targets, **({} if pruned else {"repeat": 1}))
                print(line("candidate: SQLite FTS5" + (" pruned" if pruned else ""), m,
                           "(the former default)" if pruned else "(every content word; one run per claim)"),
                      flush=True)
        elif name in ("bm25s", "tantivy"):
            build_s, search, size = (_bm25s if name == "bm25s" else _tantivy)(workdir, n)
            print(f"  {name}: built in {build_s:.0f} s, {size:.0f} MiB", flush=True)
            print(line(f"candidate: {name}", measure(by_id(search), claims, targets), ""), flush=True)
        else:
            raise SystemExit(f"unknown candidate {name!r} (fts5, bm25s, tantivy)")
