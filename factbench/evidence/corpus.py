"""The local passage store: a SQLite file with an FTS5 (BM25) index over passages.

Built by `factbench corpus build` from JSONL ({"title", "text"}), a folder of .txt files
(title = file name), or a FActScore-format knowledge DB (`documents(title, text)` whose
text joins a page's passages with a separator).
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from factbench.store.jsonl import InputFileError, read_jsonl
from factbench.store.records import Passage

FACTSCORE_SEPARATOR = "####SPECIAL####SEPARATOR####"
DEFAULT_PASSAGE_WORDS = 256
_TOKEN = re.compile(r"\w+", re.UNICODE)
_STOPWORDS = frozenset(
    "a an and are as at be been being but by did do does for from had has have he her his how i in is it its "
    "of on or she that the their them they this to was were what when where which who whom why will with "
    "would you also into than then there these those not no".split()
)


def chunk_words(text: str, size: int = DEFAULT_PASSAGE_WORDS) -> list[str]:
    words = text.split()
    return [" ".join(words[i:i + size]) for i in range(0, len(words), size)] or []


def iter_documents(source: str | Path, separator: str = FACTSCORE_SEPARATOR) -> Iterator[tuple[str, list[str]]]:
    """(title, pre-split passages or [whole text]) from a JSONL file, a folder of .txt, or a FActScore DB."""
    src = Path(source)
    if src.is_dir():
        for file in sorted(src.rglob("*.txt")):
            yield file.stem, [file.read_text(encoding="utf-8", errors="replace")]
    elif src.suffix in (".db", ".sqlite", ".sqlite3"):
        conn = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
        try:
            for title, text in conn.execute("SELECT title, text FROM documents"):
                yield title, [p for p in text.split(separator) if p.strip()]
        except sqlite3.DatabaseError as exc:
            raise InputFileError(f"{src}: not a FActScore knowledge DB with documents(title, text): {exc}") from exc
        finally:
            conn.close()
    elif src.is_file():
        for lineno, row in read_jsonl(src):
            text = row.get("text", row.get("contents"))
            if not isinstance(text, str):
                raise InputFileError(f"{src}:{lineno}: needs a string field 'text'")
            yield str(row.get("title", "")), [text]
    else:
        raise InputFileError(f"{src}: no such file or folder")


MAX_QUERY_TERMS = 6
COMMON_TERM_SHARE = 0.01  # terms in more than 1% of passages carry little BM25 weight and cost the most


def content_words(text: str) -> list[str]:
    seen: dict[str, None] = {}
    for tok in _TOKEN.findall(text.lower()):
        if len(tok) > 1 and tok not in _STOPWORDS:
            seen.setdefault(tok, None)
    return list(seen)


def fts_query(words: list[str]) -> str:
    """An FTS5 OR-query of `words` (each quoted, so no query syntax can leak in)."""
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in words)


class PassageStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"passage store not found: {self.path} (build it with `factbench corpus build`)")
        self.conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        try:
            self.conn.execute("SELECT 1 FROM passages_fts LIMIT 1")
            self.n_passages = int(self.conn.execute("SELECT value FROM meta WHERE key = 'passages'").fetchone()[0])
        except (sqlite3.DatabaseError, TypeError) as exc:
            raise InputFileError(f"{self.path}: not a factbench passage store ({exc}); rebuild it with "
                                 "`factbench corpus build`") from exc

    def query_terms(self, text: str) -> list[str]:
        """The claim's rarest content words present in the corpus, at most MAX_QUERY_TERMS; very
        common words are dropped unless nothing else is left. Ranking is still BM25 over these."""
        words = content_words(text)
        if not words:
            return []
        marks = ",".join("?" * len(words))
        df = dict(self.conn.execute(f"SELECT term, df FROM term_df WHERE term IN ({marks})", words).fetchall())
        present = sorted((df[w], w) for w in words if w in df)
        rare = [w for d, w in present if d <= max(50, COMMON_TERM_SHARE * self.n_passages)]
        chosen = rare or [w for _, w in present[:3]]
        return chosen[:MAX_QUERY_TERMS]

    @staticmethod
    def build(out: str | Path, documents: Iterable[tuple[str, list[str]]],
              passage_words: int = DEFAULT_PASSAGE_WORDS) -> dict[str, int]:
        """Write a new store at `out` (replacing it). Long texts are cut into `passage_words` windows."""
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_suffix(out.suffix + ".tmp")
        tmp.unlink(missing_ok=True)
        conn = sqlite3.connect(tmp)
        conn.executescript(
            "CREATE TABLE passages (id INTEGER PRIMARY KEY, title TEXT NOT NULL, text TEXT NOT NULL);"
            "CREATE INDEX passages_title ON passages(title);"
            "CREATE VIRTUAL TABLE passages_fts USING fts5(title, text, content='passages', content_rowid='id',"
            " tokenize='porter unicode61');"
            "CREATE TABLE term_df (term TEXT PRIMARY KEY, df INTEGER NOT NULL) WITHOUT ROWID;"
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
        )
        n_docs = n_passages = 0
        df: Counter[str] = Counter()
        with conn:
            for title, parts in documents:
                n_docs += 1
                for part in parts:
                    for passage in chunk_words(part, passage_words):
                        conn.execute("INSERT INTO passages (title, text) VALUES (?, ?)", (title, passage))
                        df.update(set(_TOKEN.findall(passage.lower())))
                        n_passages += 1
            conn.execute("INSERT INTO passages_fts(passages_fts) VALUES ('rebuild')")
            conn.executemany("INSERT INTO term_df VALUES (?, ?)", df.items())
            conn.execute("INSERT INTO meta VALUES ('passages', ?)", (str(n_passages),))
        conn.execute("VACUUM")
        conn.close()
        tmp.replace(out)
        return {"documents": n_docs, "passages": n_passages}

    def search(self, query_text: str, k: int = 5, title: str | None = None) -> list[Passage]:
        """Top-k passages by BM25; with `title`, only that document's passages (filled in page order)."""
        query = fts_query(self.query_terms(query_text))
        rows: list[tuple] = []
        if title is None:
            if query:
                rows = self.conn.execute(
                    "SELECT p.title, p.text, bm25(passages_fts) AS s FROM passages_fts "
                    "JOIN passages p ON p.id = passages_fts.rowid WHERE passages_fts MATCH ? ORDER BY s LIMIT ?",
                    (query, k)).fetchall()
        else:
            # A document's passages are stored together: restrict the full-text match to its rowid
            # range (cheap for FTS5), then to the exact title.
            lo, hi = self.conn.execute("SELECT MIN(id), MAX(id) FROM passages WHERE title = ?", (title,)).fetchone()
            if query and lo is not None:
                rows = self.conn.execute(
                    "SELECT p.title, p.text, bm25(passages_fts) AS s FROM passages_fts "
                    "JOIN passages p ON p.id = passages_fts.rowid "
                    "WHERE passages_fts MATCH ? AND passages_fts.rowid BETWEEN ? AND ? AND p.title = ? "
                    "ORDER BY s LIMIT ?", (query, lo, hi, title, k)).fetchall()
            if len(rows) < k:  # the topic's page, in order, when few passages match the words
                have = {r[1] for r in rows}
                for t, text in self.conn.execute(
                        "SELECT title, text FROM passages WHERE title = ? ORDER BY id LIMIT ?", (title, k)):
                    if len(rows) >= k:
                        break
                    if text not in have:
                        rows.append((t, text, None))
        return [Passage(title=t, text=text, source=f"corpus:{self.path.name}",
                        score=None if s is None else round(-float(s), 4)) for t, text, s in rows]

    def count(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM passages").fetchone()[0]

    def close(self) -> None:
        self.conn.close()
