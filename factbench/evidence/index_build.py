"""Writing a passage store: the SQLite file (passage texts, titles, term table) and its postings file.

Passages are tokenised once, in blocks; each block's (term, passage, term frequency) triples are
sorted in numpy and spilled to a temporary file, so memory stays bounded by one block. At the end
every posting is placed at its term's slot in the postings file with its BM25 impact
(k1 = 1.2, b = 0.75, the same constants SQLite FTS5 and Lucene use). Both files are written under
temporary names and renamed into place, so a store that is being rebuilt keeps serving until the
new one is complete.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
import uuid
from array import array
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from factbench.evidence.index_bm25 import IMPACT_STEPS, open_array, postings_path, write_header
from factbench.evidence.index_text import TOKEN, index_term
from factbench.store.jsonl import InputFileError

FORMAT = "factbench-bm25-1"
K1, B = 1.2, 0.75
BLOCK_TOKENS = 12_000_000  # ~100k passages of 120 words: a few hundred MB of numpy scratch


class _Vocabulary(dict):
    """Raw lower-cased token -> term id (-1 for stopwords); normalises each distinct token once."""

    def __init__(self) -> None:
        super().__init__()
        self.terms: dict[str, int] = {}

    def __missing__(self, token: str) -> int:
        term = index_term(token)
        tid = -1 if term is None else self.terms.setdefault(term, len(self.terms))
        self[token] = tid
        return tid


class _Postings:
    """Accumulates postings block by block in a spill folder."""

    def __init__(self, spill: Path):
        self.spill, self.vocab = spill, _Vocabulary()
        self.tokens, self.counts = array("i"), array("i")
        self.first = 0  # id of the first passage of the current block
        self.blocks: list[Path] = []
        self.df = np.zeros(0, dtype=np.int64)
        self.lengths: list[np.ndarray] = []

    def add(self, text: str) -> None:
        before = len(self.tokens)
        self.tokens.extend(map(self.vocab.__getitem__, TOKEN.findall(text.lower())))
        self.counts.append(len(self.tokens) - before)
        if len(self.tokens) >= BLOCK_TOKENS:
            self.flush()

    def flush(self) -> None:
        n = len(self.counts)
        if not n:
            return
        terms = np.frombuffer(self.tokens, dtype=np.int32)
        local = np.repeat(np.arange(n, dtype=np.int64), np.frombuffer(self.counts, dtype=np.int32))
        keep = terms >= 0
        terms, local = terms[keep], local[keep]
        self.lengths.append(np.bincount(local, minlength=n).astype(np.int32))
        keys, tf = np.unique(terms.astype(np.int64) * n + local, return_counts=True)
        term = (keys // n).astype(np.int32)
        block = self.spill / f"block{len(self.blocks)}.npz"
        np.savez(block, term=term, doc=(keys % n + self.first).astype(np.int32),
                 tf=np.minimum(tf, 65535).astype(np.uint16))
        self.blocks.append(block)
        counts = np.bincount(term, minlength=len(self.vocab.terms))
        self.df = np.concatenate([self.df, np.zeros(len(counts) - len(self.df), dtype=np.int64)]) + counts
        self.first += n
        self.tokens, self.counts = array("i"), array("i")

    def write(self, path: Path, build_id: str, title_of: np.ndarray) -> np.ndarray:
        """Write the postings file; returns each term's largest impact."""
        self.flush()
        n_terms, n_passages = len(self.vocab.terms), len(title_of)
        df = np.concatenate([self.df, np.zeros(n_terms - len(self.df), dtype=np.int64)])
        starts = np.concatenate([[0], np.cumsum(df)])
        dl = np.concatenate(self.lengths) if self.lengths else np.zeros(0, dtype=np.int32)
        norm = (K1 * (1 - B + B * dl / max(float(dl.mean()) if len(dl) else 1.0, 1e-9))).astype(np.float32)
        idf = np.log1p((n_passages - df + 0.5) / (df + 0.5))
        # An impact is below idf * (k1 + 1); one global step keeps impacts comparable across terms.
        scale = float(idf.max() * (K1 + 1) / IMPACT_STEPS) if n_terms else 1.0
        idf_steps = (idf / scale).astype(np.float32)
        layout = write_header(path, build_id, scale, {"docs": ("int32", int(starts[-1])),
                                                      "impacts": ("uint16", int(starts[-1])),
                                                      "title_of": ("int32", n_passages)})
        docs, impacts = open_array(path, layout, "docs", "r+"), open_array(path, layout, "impacts", "r+")
        open_array(path, layout, "title_of", "r+")[:] = title_of
        fill, top = starts[:-1].copy(), np.zeros(n_terms, dtype=np.int64)
        for block in self.blocks:
            with np.load(block) as z:
                term, doc, tf = z["term"], z["doc"], z["tf"].astype(np.float32)
            counts = np.bincount(term, minlength=n_terms)
            first_in_block = np.cumsum(counts) - counts
            pos = fill[term] + np.arange(len(term)) - first_in_block[term]
            steps = idf_steps[term] * tf * (K1 + 1) / (tf + norm[doc])
            imp = np.clip(np.rint(steps), 1, IMPACT_STEPS).astype(np.uint16)
            docs[pos], impacts[pos] = doc, imp
            present = np.flatnonzero(counts)
            top[present] = np.maximum(top[present], np.maximum.reduceat(imp, first_in_block[present]))
            fill += counts
            block.unlink()
        for written in (docs, impacts):
            if isinstance(written, np.memmap):
                written.flush()
        del docs, impacts
        self.starts, self.doc_freq = starts[:-1], df
        return top


def build_store(out: str | Path, passages: Iterable[tuple[str, str]]) -> int:
    """Write a new store at `out` from (title, passage text) in page order, replacing any old one.
    Returns the number of passages."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp_postings = postings_path(tmp)
    for p in (tmp, tmp_postings):
        p.unlink(missing_ok=True)
    started = time.perf_counter()
    conn = sqlite3.connect(tmp)
    conn.executescript(
        "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
        "CREATE TABLE passages (id INTEGER PRIMARY KEY, title TEXT NOT NULL, text TEXT NOT NULL);"
        "CREATE TABLE titles (title TEXT PRIMARY KEY, no INTEGER NOT NULL, lo INTEGER NOT NULL,"
        " hi INTEGER NOT NULL) WITHOUT ROWID;"
        "CREATE TABLE terms (term TEXT PRIMARY KEY, df INTEGER NOT NULL, start INTEGER NOT NULL,"
        " top INTEGER NOT NULL) WITHOUT ROWID;"
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);")
    titles: dict[str, list[int]] = {}  # title -> [no, lo, hi]
    title_of = array("i")
    build_id = uuid.uuid4().hex
    try:
        with tempfile.TemporaryDirectory(dir=out.parent, prefix=".build-") as spill:
            postings = _Postings(Path(spill))
            rows: list[tuple[int, str, str]] = []
            for pid, (title, text) in enumerate(passages):
                span = titles.setdefault(title, [len(titles), pid, pid])
                span[2] = pid
                title_of.append(span[0])
                postings.add(text)
                rows.append((pid, title, text))
                if len(rows) >= 10_000:
                    conn.executemany("INSERT INTO passages VALUES (?, ?, ?)", rows)
                    rows = []
            if not title_of:
                raise InputFileError("no passages to index: the input has no text")
            conn.executemany("INSERT INTO passages VALUES (?, ?, ?)", rows)
            top = postings.write(tmp_postings, build_id, np.frombuffer(title_of, dtype=np.int32))
        conn.executemany("INSERT INTO titles VALUES (?, ?, ?, ?)", ((t, *span) for t, span in sorted(titles.items())))
        terms = sorted(postings.vocab.terms.items())
        conn.executemany("INSERT INTO terms VALUES (?, ?, ?, ?)",
                         ((t, int(postings.doc_freq[i]), int(postings.starts[i]), int(top[i])) for t, i in terms))
        meta = {"format": FORMAT, "build": build_id, "passages": len(title_of), "titles": len(titles),
                "k1": K1, "b": B, "build_seconds": round(time.perf_counter() - started, 1)}
        conn.executemany("INSERT INTO meta VALUES (?, ?)", ((k, str(v)) for k, v in meta.items()))
        conn.commit()
    except BaseException:
        conn.close()
        for p in (tmp, tmp_postings):  # the old store, if any, is untouched
            p.unlink(missing_ok=True)
        raise
    conn.close()
    os.replace(tmp_postings, postings_path(out))
    os.replace(tmp, out)
    return len(title_of)
