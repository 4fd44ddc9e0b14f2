"""The local passage store: passage texts in SQLite, BM25 over a memory-mapped impact index.

Built by `factbench corpus build` from JSONL ({"title", "text"}), a folder of .txt files
(title = file name), a FActScore-format knowledge DB (`documents(title, text)` whose text joins a
page's passages with a separator) or an existing store (to rebuild or extend it). A store is two
files: `NAME.db` (passages, titles, terms) and `NAME.db.postings` (see factbench/evidence/index_bm25.py).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from factbench.evidence.index_bm25 import Postings, PostingsError, Term, postings_path
from factbench.evidence.index_build import FORMAT, build_store
from factbench.evidence.index_text import content_words
from factbench.store.jsonl import InputFileError, read_jsonl
from factbench.store.records import Passage

__all__ = ["FACTSCORE_SEPARATOR", "PassageStore", "chunk_words", "content_words", "iter_documents"]

FACTSCORE_SEPARATOR = "####SPECIAL####SEPARATOR####"
DEFAULT_PASSAGE_WORDS = 256
_SQL_VARIABLES = 900  # stay under SQLite's bound-parameter limit in IN (...) lists


def chunk_words(text: str, size: int = DEFAULT_PASSAGE_WORDS) -> list[str]:
    words = text.split()
    return [" ".join(words[i:i + size]) for i in range(0, len(words), size)] or []


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}


def _iter_sqlite(src: Path, separator: str) -> Iterator[tuple[str, list[str]]]:
    conn = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    try:
        tables = _tables(conn)
        if "documents" in tables:  # FActScore knowledge source
            for title, text in conn.execute("SELECT title, text FROM documents"):
                yield title, [p for p in text.split(separator) if p.strip()]
        elif "passages" in tables:  # a factbench store (any format): its passages, page by page
            title = ""  # nothing is yielded before the first row sets it
            parts: list[str] = []
            for t, text in conn.execute("SELECT title, text FROM passages ORDER BY id"):
                if t != title and parts:
                    yield title, parts
                    parts = []
                title = t
                parts.append(text)
            if parts:
                yield title, parts
        else:
            raise InputFileError(f"{src}: neither a FActScore knowledge DB with documents(title, text) "
                                 "nor a factbench passage store")
    except sqlite3.DatabaseError as exc:
        raise InputFileError(f"{src}: not a FActScore knowledge DB with documents(title, text): {exc}") from exc
    finally:
        conn.close()


def iter_documents(source: str | Path, separator: str = FACTSCORE_SEPARATOR) -> Iterator[tuple[str, list[str]]]:
    """(title, pre-split passages or [whole text]) from a JSONL file, a folder of .txt, or a SQLite DB."""
    src = Path(source)
    if src.is_dir():
        for file in sorted(src.rglob("*.txt")):
            yield file.stem, [file.read_text(encoding="utf-8", errors="replace")]
    elif src.suffix in (".db", ".sqlite", ".sqlite3"):
        if not src.is_file():
            raise InputFileError(f"{src}: no such file")
        yield from _iter_sqlite(src, separator)
    elif src.is_file():
        for lineno, row in read_jsonl(src):
            text = row.get("text", row.get("contents"))
            if not isinstance(text, str):
                raise InputFileError(f"{src}:{lineno}: needs a string field 'text'")
            yield str(row.get("title", "")), [text]
    else:
        raise InputFileError(f"{src}: no such file or folder")


class PassageStore:
    """A read-only store; one instance may serve several threads at once."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"passage store not found: {self.path} (build it with `factbench corpus build`)")
        # One connection for all threads (queries on it are short), so a store rebuilt while it is
        # open keeps being read from the same file as its memory-mapped postings.
        self._conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        self._lock = threading.Lock()
        rebuild = f"rebuild it with `factbench corpus build {self.path} --out {self.path}`"
        try:
            meta = dict(self._sql("SELECT key, value FROM meta"))
        except sqlite3.DatabaseError as exc:
            raise InputFileError(f"{self.path}: not a factbench passage store ({exc})") from exc
        if meta.get("format") != FORMAT:
            raise InputFileError(f"{self.path}: a passage store in an older format; {rebuild}")
        try:
            self.index = Postings(postings_path(self.path), meta["build"])
        except PostingsError as exc:
            raise InputFileError(f"{exc}; {rebuild}") from exc
        self.n_passages = int(meta["passages"])
        self.meta = meta

    def _sql(self, query: str, params: tuple | list = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(query, params).fetchall()

    @staticmethod
    def build(out: str | Path, documents: Iterable[tuple[str, list[str]]],
              passage_words: int = DEFAULT_PASSAGE_WORDS) -> dict[str, int]:
        """Write a new store at `out` (replacing it). Long texts are cut into `passage_words` windows."""
        n_docs = 0

        def passages() -> Iterator[tuple[str, str]]:
            nonlocal n_docs
            for title, parts in documents:
                n_docs += 1
                for part in parts:
                    for passage in chunk_words(part, passage_words):
                        yield title, passage

        n_passages = build_store(out, passages())
        return {"documents": n_docs, "passages": n_passages}

    def terms(self, words: Iterable[str]) -> dict[str, Term]:
        """Index statistics of the given index terms (absent ones are left out)."""
        words = list(dict.fromkeys(words))
        found: dict[str, Term] = {}
        for i in range(0, len(words), _SQL_VARIABLES):
            chunk = words[i:i + _SQL_VARIABLES]
            rows = self._sql(f"SELECT term, start, df, top FROM terms WHERE term IN ({','.join('?' * len(chunk))})",
                             chunk)
            found.update((t, Term(start, df, top)) for t, start, df, top in rows)
        return found

    def search(self, query_text: str, k: int = 5, title: str | None = None) -> list[Passage]:
        """Top-k passages by BM25; with `title`, only that document's passages (filled in page order)."""
        return self.search_many([query_text], k, title)[0]

    def search_many(self, texts: list[str], k: int = 5, title: str | None = None,
                    exhaustive: bool = False) -> list[list[Passage]]:
        """`search` for each text, in order, with one term lookup and one passage fetch for all of them.
        `exhaustive` scores every posting (the reference MaxScore must agree with)."""
        ranked, texts_by_id = self.ranked_many(texts, k, title, exhaustive)
        return [[self.passage(texts_by_id[pid], s) for pid, s in r] for r in ranked]

    def passage(self, title_text: tuple[str, str], score: float | None) -> Passage:
        """A retrieved passage: its (title, text) from `passages_by_id`, and its score."""
        return Passage(title=title_text[0], text=title_text[1], source=f"corpus:{self.path.name}",
                       score=None if score is None else round(score, 4))

    def ranked_many(self, texts: list[str], k: int = 5, title: str | None = None, exhaustive: bool = False
                    ) -> tuple[list[Sequence[tuple[int, float | None]]], dict[int, tuple[str, str]]]:
        """What `search_many` builds its passages from: per text, (passage id, score) best first,
        and each of those passages' (title, text)."""
        words = [content_words(t) for t in texts]
        stats = self.terms(w for ws in words for w in ws)
        span = None
        if title is not None:
            span = next(iter(self._sql("SELECT no, lo, hi FROM titles WHERE title = ?", (title,))), None)
        ranked: list[Sequence[tuple[int, float | None]]] = []
        if span is not None:  # one topic's passages: the queries share their terms' lookups
            ranked += self.index.top_k_in_range_many([[stats[w] for w in ws if w in stats] for ws in words],
                                                     k, span[1], span[2], span[0])
        for ws in words if span is None else ():
            terms = [stats[w] for w in ws if w in stats]
            if title is not None:
                ranked.append([])
            elif exhaustive:
                ranked.append(self.index.top_k_exhaustive(terms, k))
            else:
                ranked.append(self.index.top_k(terms, k))
        if span is not None and any(len(r) < k for r in ranked):
            page = [(pid, None) for (pid,) in self._sql(
                "SELECT id FROM passages WHERE id BETWEEN ? AND ? AND title = ? ORDER BY id LIMIT ?",
                (span[1], span[2], title, k))]
            ranked = [[*r, *[p for p in page if p[0] not in {pid for pid, _ in r}][:k - len(r)]] for r in ranked]
        return ranked, self.passages_by_id({pid for r in ranked for pid, _ in r})

    def passages_by_id(self, ids: set[int]) -> dict[int, tuple[str, str]]:
        ids_list = sorted(ids)
        out: dict[int, tuple[str, str]] = {}
        for i in range(0, len(ids_list), _SQL_VARIABLES):
            chunk = ids_list[i:i + _SQL_VARIABLES]
            out.update((pid, (t, text)) for pid, t, text in self._sql(
                f"SELECT id, title, text FROM passages WHERE id IN ({','.join('?' * len(chunk))})", chunk))
        return out

    def count(self) -> int:
        return self.n_passages

    def close(self) -> None:
        with self._lock:
            self._conn.close()
