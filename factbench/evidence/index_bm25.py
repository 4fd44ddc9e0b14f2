"""Exact top-k BM25 over a memory-mapped impact index (numpy only).

The postings file next to a passage store holds, for every term, the ids of the passages that
contain it (ascending) and each one's precomputed BM25 contribution (its *impact*, quantised to
uint16 steps of one global `scale`), plus each passage's document number. A query's score for a
passage is the sum of its terms' impacts; sums of these integers are exact in float32, so every
search below ranks by the same numbers.

Whole-corpus queries use MaxScore: terms are taken in order of their largest impact; once the
remaining terms' largest impacts add up to less than the current k-th best score, no passage
outside the candidates seen so far can enter the top k, so the remaining (common, low-weight)
terms are only looked up for those candidates (binary search, or one scan when there are many
candidates), and candidates that can no longer reach the k-th best are dropped as it rises. The
result is the same top k as scoring every posting (`top_k_exhaustive`, kept as the reference);
integer sums stay exact in float32 up to 2**24, i.e. for queries of up to 256 terms.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

MAGIC = b"factbench-postings\n"
HEADER_BYTES = 4096
IMPACT_STEPS = 65535  # uint16
SCORE_TYPE = np.float32
DENSE_CELLS = 1 << 22  # a range query's term x passage matrix at most this big (16 MiB)
_SCAN_RATIO = 16  # scan a term rather than binary-search it when it has < 16 postings per candidate
_RESET_BY_FILL = 16  # clear the whole accumulator once a query touched more than 1/16 of it


class PostingsError(Exception):
    """The postings file is missing, truncated or belongs to another build."""


@dataclass(frozen=True)
class Term:
    start: int  # first posting
    df: int  # number of postings (passages containing the term)
    top: int  # largest (quantised) impact among its postings


def postings_path(store: Path) -> Path:
    return store.with_name(store.name + ".postings")


def write_header(path: Path, build_id: str, scale: float,
                 arrays: dict[str, tuple[str, int]]) -> dict[str, tuple[str, int, int]]:
    """Lay out `arrays` (name -> (dtype, length)) after the header; returns name -> (dtype, offset, length)."""
    layout, offset = {}, HEADER_BYTES
    for name, (dtype, length) in arrays.items():
        layout[name] = (dtype, offset, length)
        offset += -(-np.dtype(dtype).itemsize * length // 64) * 64
    head = MAGIC + json.dumps({"build": build_id, "scale": scale, "arrays": layout}).encode()
    if len(head) > HEADER_BYTES:
        raise ValueError("postings header too large")
    with open(path, "wb") as f:
        f.write(head.ljust(HEADER_BYTES, b"\0"))
        f.truncate(max(offset, HEADER_BYTES + 64))
    return layout


def open_array(path: Path, layout: dict, name: str, mode: Literal["r", "r+"] = "r") -> np.ndarray:
    dtype, offset, length = layout[name]
    if length == 0:
        return np.zeros(0, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode=mode, offset=offset, shape=(length,))


class Postings:
    """Read side of a postings file; safe to share between threads (per-thread scratch space)."""

    def __init__(self, path: Path, build_id: str):
        try:
            with open(path, "rb") as f:
                head = f.read(HEADER_BYTES)
            if not head.startswith(MAGIC):
                raise PostingsError(f"{path}: not a factbench postings file")
            info = json.loads(head[len(MAGIC):].rstrip(b"\0"))
            if info["build"] != build_id:
                raise PostingsError(f"{path}: belongs to another build of the store")
            size = path.stat().st_size
            if any(off + np.dtype(dt).itemsize * n > size for dt, off, n in info["arrays"].values()):
                raise PostingsError(f"{path}: truncated")
            layout, scale = info["arrays"], float(info["scale"])
        except OSError as exc:
            raise PostingsError(f"{path}: cannot read the postings file ({exc.strerror})") from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise PostingsError(f"{path}: unreadable postings header ({exc})") from exc
        # Plain ndarray views of the mapped arrays: slicing a np.memmap runs Python code per slice
        # (memmap.__getitem__, __array_finalize__), a large share of a topic query's time in
        # profiles; the view keeps the map alive.
        self.docs = open_array(path, layout, "docs").view(np.ndarray)
        self.impacts = open_array(path, layout, "impacts").view(np.ndarray)
        self.title_of = open_array(path, layout, "title_of").view(np.ndarray)
        self.n_passages = len(self.title_of)
        self.scale = scale
        self._local = threading.local()

    def _scratch(self) -> np.ndarray:
        acc = getattr(self._local, "acc", None)
        if acc is None:
            acc = self._local.acc = np.zeros(self.n_passages, dtype=SCORE_TYPE)
        return acc

    def _reset(self, acc: np.ndarray, seen: list[np.ndarray]) -> None:
        if sum(len(d) for d in seen) * _RESET_BY_FILL > len(acc):
            acc.fill(0)
        else:
            for docs in seen:
                acc[docs] = 0

    def _slice(self, t: Term) -> tuple[np.ndarray, np.ndarray]:
        return self.docs[t.start:t.start + t.df], self.impacts[t.start:t.start + t.df].astype(SCORE_TYPE)

    def _ranked(self, ids: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Best first, ties by passage id; scores in BM25 units."""
        if len(ids) > k:
            cut = np.partition(scores, len(scores) - k)[len(scores) - k]
            keep = scores >= cut  # every passage tied at the cut, so the id order decides fairly
            ids, scores = ids[keep], scores[keep]
        order = np.lexsort((ids, -scores))[:k]
        return [(int(ids[o]), float(scores[o]) * self.scale) for o in order]

    def _lookup(self, ids: np.ndarray, t: Term, scores: np.ndarray) -> None:
        """Add term `t`'s impacts to `scores` of the passages `ids` (sorted, int32) by binary search."""
        docs = self.docs[t.start:t.start + t.df]
        pos = np.minimum(np.searchsorted(docs, ids), len(docs) - 1)
        hit = docs[pos] == ids
        scores[hit] += self.impacts[t.start + pos[hit]]

    def top_k(self, terms: list[Term], k: int) -> list[tuple[int, float]]:
        """(passage id, score), best first, ties by id; exact BM25 top k over the whole corpus."""
        terms = sorted(terms, key=lambda t: -t.top)
        if not terms or k <= 0:
            return []
        bounds = np.cumsum([t.top for t in reversed(terms)])[::-1].tolist() + [0]
        acc = self._scratch()
        seen: list[np.ndarray] = []
        best = np.zeros(0, dtype=np.int32)  # the k best passages by partial score (int32 like the postings)
        theta = 0.0  # the k-th best partial score: the final k-th best score is at least this
        try:
            i = 0
            # Phase 1: a term that could still bring in a new passage is scanned in full.
            while i < len(terms) and not (len(best) >= k and bounds[i] < theta):
                docs, imps = self._slice(terms[i])
                np.add.at(acc, docs, imps)
                seen.append(docs)
                # Only passages now above the old threshold can displace the current k best.
                rising = docs[acc[docs] > theta] if len(best) >= k else docs
                pool = np.concatenate([best, rising])
                if len(best) and len(rising):
                    pool = _distinct(pool)
                if len(pool) > k:
                    pool = pool[np.argpartition(-acc[pool], k - 1)[:k]]
                best = pool
                theta = float(acc[best].min()) if len(best) >= k else 0.0
                i += 1
            cat = np.concatenate(seen)
            if i == len(terms):
                cand = _distinct(cat[acc[cat] >= theta])
                return self._ranked(cand, acc[cand], k)
            # Phase 2: the remaining terms are looked up only for passages that can still make it.
            cat = _distinct(cat[acc[cat] + bounds[i] >= theta])
            scores, in_acc = acc[cat], True  # in_acc: acc[cat] holds the candidates' current scores
            for j in range(i, len(terms)):
                t = terms[j]
                if t.df < _SCAN_RATIO * len(cat):  # many candidates: scanning the term is cheaper
                    if not in_acc:
                        acc[cat] = scores
                    docs, imps = self._slice(t)
                    np.add.at(acc, docs, imps)
                    seen.append(docs)
                    scores, in_acc = acc[cat], True
                else:
                    self._lookup(cat, t, scores)
                    in_acc = False
                if len(cat) > k:
                    theta = max(theta, float(np.partition(scores, len(scores) - k)[len(scores) - k]))
                    keep = scores + bounds[j + 1] >= theta
                    cat, scores = cat[keep], scores[keep]
            return self._ranked(cat, scores, k)
        finally:
            self._reset(acc, seen)

    def top_k_exhaustive(self, terms: list[Term], k: int) -> list[tuple[int, float]]:
        """The reference: every posting of every term scored."""
        if not terms or k <= 0:
            return []
        acc = self._scratch()
        seen = []
        try:
            for t in terms:
                docs, imps = self._slice(t)
                np.add.at(acc, docs, imps)
                seen.append(docs)
            cand = _distinct(np.concatenate(seen))
            return self._ranked(cand, acc[cand], k)
        finally:
            self._reset(acc, seen)

    def top_k_in_range(self, terms: list[Term], k: int, lo: int, hi: int, title_no: int) -> list[tuple[int, float]]:
        """Top k among passages lo..hi (inclusive) that belong to document `title_no`."""
        return self.top_k_in_range_many([terms], k, lo, hi, title_no)[0]

    def top_k_in_range_many(self, queries: list[list[Term]], k: int, lo: int, hi: int,
                            title_no: int) -> list[list[tuple[int, float]]]:
        """`top_k_in_range` for several queries over one range (the claims of one answer, which share
        most of their terms): each term's postings in the range are looked up once, into a dense
        term x passage matrix, and every query is scored by one product with it. Scores are sums of
        integer impacts, exact in float32 in any order, so the ranking is the one-query ranking."""
        width = hi - lo + 1
        rows: dict[int, int] = {}  # term (by its postings' start) -> row of the matrix
        for terms in queries:
            for t in terms:
                rows.setdefault(t.start, len(rows))
        if not queries or k <= 0:
            return [[] for _ in queries]
        if len(rows) * width > DENSE_CELLS:  # a very long document: one query at a time, sparse
            return [self._top_k_in_range_sparse(terms, k, lo, hi, title_no) for terms in queries]
        span = np.array([lo, hi + 1], dtype=self.docs.dtype)  # same dtype: no conversion of the postings
        impacts = np.zeros((len(rows), width), dtype=SCORE_TYPE)
        looked_up: set[int] = set()
        for terms in queries:
            for t in terms:
                if t.start in looked_up:
                    continue
                looked_up.add(t.start)
                a, b = self.docs[t.start:t.start + t.df].searchsorted(span) + t.start
                if b > a:
                    impacts[rows[t.start], np.asarray(self.docs[a:b]) - lo] = self.impacts[a:b]
        counts = np.zeros((len(queries), len(rows)), dtype=SCORE_TYPE)  # how often each query has each term
        for q, terms in enumerate(queries):
            for t in terms:
                counts[q, rows[t.start]] += 1
        scores = counts @ impacts
        scores[:, self.title_of[lo:hi + 1] != title_no] = 0
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]  # best first; ties: lower id first
        best = np.take_along_axis(scores, order, axis=1)
        return [[(lo + int(i), float(s) * self.scale) for i, s in zip(o.tolist(), b.tolist()) if s > 0]
                for o, b in zip(order, best)]

    def _top_k_in_range_sparse(self, terms: list[Term], k: int, lo: int, hi: int,
                               title_no: int) -> list[tuple[int, float]]:
        local = np.zeros(hi - lo + 1, dtype=SCORE_TYPE)
        span = np.array([lo, hi + 1], dtype=self.docs.dtype)
        for t in terms:
            a, b = np.searchsorted(self.docs[t.start:t.start + t.df], span) + t.start
            if b > a:
                local[np.asarray(self.docs[a:b]) - lo] += self.impacts[a:b]
        ids = np.flatnonzero(local > 0)
        ids = ids[self.title_of[ids + lo] == title_no]
        return self._ranked(ids + lo, local[ids], k)


def _distinct(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values (np.unique without its overhead on large inputs)."""
    a = np.sort(a)
    return a[np.concatenate(([True], a[1:] != a[:-1]))] if len(a) else a
