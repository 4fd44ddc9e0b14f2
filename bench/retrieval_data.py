"""Synthetic Wikipedia-like corpus and claims with a known source passage, for bench/retrieval.py.

Documents come in clusters of ten that share a pool of 40 topic words (the distractors: other
pages about the same subject), each document has four words of its own (its name), and every
passage of 120 words mixes Zipf-distributed background words (70%), cluster topic words (24%)
and the document's own words (6%); twenty passages make a document.

A claim is paraphrase-like: 5-9 distinct words drawn from one passage by occurrence (so mostly
frequent words, as in real claims), a third of them replaced by background words the passage
does not contain (a paraphrase's different wording), shuffled and joined with stopwords.
"""

from __future__ import annotations

import json
import random
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from factbench.evidence.index_text import STOPWORDS

WORDS_PER_PASSAGE = 120
PASSAGES_PER_DOC = 20
DOCS_PER_CLUSTER = 10
VOCABULARY = 50_000
TOPIC_WORDS, OWN_WORDS = 40, 4
SHARE_BACKGROUND, SHARE_TOPIC = 0.70, 0.24


def vocabulary(seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words: dict[str, None] = {}
    while len(words) < VOCABULARY:
        for n in rng.integers(3, 11, size=VOCABULARY):
            w = "".join(letters[rng.integers(0, 26, size=n)])
            if w not in STOPWORDS and not w.endswith("s"):  # no accidental plural pairs
                words.setdefault(w, None)
    return list(words)[:VOCABULARY]


def _zipf_cdf() -> np.ndarray:
    w = 1.0 / np.arange(1, VOCABULARY + 1)
    return np.cumsum(w) / w.sum()


def write_corpus(path: Path, n_passages: int, seed: int = 0) -> None:
    """A JSONL file of documents (`factbench corpus build` input), written once and reused."""
    vocab = np.array(vocabulary(seed), dtype=object)
    cdf, rng = _zipf_cdf(), np.random.default_rng(seed + 1)
    n_docs = n_passages // PASSAGES_PER_DOC
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        for c0 in range(0, n_docs, DOCS_PER_CLUSTER):
            docs = range(c0, min(c0 + DOCS_PER_CLUSTER, n_docs))
            topic = rng.integers(300, 20_000, size=TOPIC_WORDS)
            for d in docs:
                own = rng.integers(20_000, VOCABULARY, size=OWN_WORDS)
                shape = (PASSAGES_PER_DOC, WORDS_PER_PASSAGE)
                ids = np.minimum(np.searchsorted(cdf, rng.random(shape)), VOCABULARY - 1)
                kind = rng.random(shape)
                ids = np.where(kind >= SHARE_BACKGROUND, topic[rng.integers(0, TOPIC_WORDS, shape)], ids)
                ids = np.where(kind >= SHARE_BACKGROUND + SHARE_TOPIC, own[rng.integers(0, OWN_WORDS, shape)], ids)
                text = " ".join(vocab[ids.ravel()].tolist())
                out.write(json.dumps({"title": f"Document {d}", "text": text}) + "\n")
    tmp.replace(path)


@dataclass(frozen=True)
class Claim:
    text: str
    passage: int  # id of the passage it was drawn from
    title: str


def make_claims(store_path: Path, n: int, seed: int = 0) -> list[Claim]:
    """Claims drawn from random passages of a built store (so a reused store needs no corpus file)."""
    vocab, cdf = vocabulary(seed), _zipf_cdf()
    rng = random.Random(seed + 2)
    conn = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
    total = conn.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
    claims = []
    filler = ["the", "was", "of", "in", "and", "a", "by"]
    for pid in rng.sample(range(total), min(n, total)):
        title, text = conn.execute("SELECT title, text FROM passages WHERE id = ?", (pid,)).fetchone()
        tokens = text.split()
        present = set(tokens)
        m = rng.randint(5, 9)
        chosen: dict[str, None] = {}
        while len(chosen) < min(m, len(present)):
            chosen.setdefault(rng.choice(tokens), None)
        words = list(chosen)
        for i in rng.sample(range(len(words)), len(words) // 3):
            while True:
                other = vocab[min(int(np.searchsorted(cdf, rng.random())), VOCABULARY - 1)]
                if other not in present:
                    words[i] = other
                    break
        words += rng.sample(filler, 3)
        rng.shuffle(words)
        claims.append(Claim(" ".join(words) + ".", pid, title))
    conn.close()
    return claims
