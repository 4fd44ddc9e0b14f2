import json
import sqlite3
import time

from factbench.evidence.corpus import (
    FACTSCORE_SEPARATOR,
    PassageStore,
    content_words,
    fts_query,
    iter_documents,
)


def _docs():
    return [("Ada Lovelace", ["Ada Lovelace was an English mathematician born in 1815. " * 3,
                              "She worked on the Analytical Engine with Charles Babbage."]),
            ("Alan Turing", ["Alan Turing was a British mathematician who proposed the Turing test."]),
            ("Grace Hopper", ["Grace Hopper developed early compilers and the COBOL language."])]


def test_build_and_bm25_search(tmp_path):
    out = tmp_path / "c.db"
    counts = PassageStore.build(out, _docs(), passage_words=20)
    assert counts == {"documents": 3, "passages": 5}  # 27 words -> 2 windows of 20
    store = PassageStore(out)
    hits = store.search("Who developed the COBOL language?", k=2)
    assert hits[0].title == "Grace Hopper"
    assert hits[0].score is not None


def test_topic_restriction_and_page_fill(tmp_path):
    out = tmp_path / "c.db"
    PassageStore.build(out, _docs())
    store = PassageStore(out)
    hits = store.search("mathematician", k=5, title="Alan Turing")
    assert {h.title for h in hits} == {"Alan Turing"}
    # no word matches: the topic's own passages are still returned, in page order
    hits = store.search("zzzz qqqq", k=1, title="Ada Lovelace")
    assert hits and hits[0].title == "Ada Lovelace"


def test_query_is_quoted_so_fts_syntax_cannot_leak():
    words = content_words('NEAR(a b) AND "x" OR title:evil -')
    assert words == ["near", "title", "evil"]
    assert fts_query(['ev"il']) == '"ev""il"'


def test_query_keeps_the_rarest_words(tmp_path):
    docs = [(f"D{i}", [f"common filler text number{i} " + ("rareword " if i == 7 else "")]) for i in range(200)]
    PassageStore.build(tmp_path / "c.db", docs)
    store = PassageStore(tmp_path / "c.db")
    assert store.query_terms("common rareword unknownword") == ["rareword"]  # 'common' is in every passage
    assert store.query_terms("common filler") == ["common", "filler"]  # nothing rarer: keep the best few
    assert store.search("common rareword", k=1)[0].title == "D7"


def test_sources_jsonl_folder_and_factscore_db(tmp_path):
    jl = tmp_path / "docs.jsonl"
    jl.write_text(json.dumps({"title": "T1", "text": "alpha beta"}) + "\n")
    assert list(iter_documents(jl)) == [("T1", ["alpha beta"])]
    folder = tmp_path / "txt"
    folder.mkdir()
    (folder / "Page.txt").write_text("gamma delta")
    assert list(iter_documents(folder)) == [("Page", ["gamma delta"])]
    db = tmp_path / "enwiki.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE documents (title PRIMARY KEY, text)")
    conn.execute("INSERT INTO documents VALUES (?, ?)", ("Kang Ji-hwan", f"part one{FACTSCORE_SEPARATOR}part two"))
    conn.commit()
    conn.close()
    assert list(iter_documents(db)) == [("Kang Ji-hwan", ["part one", "part two"])]


def test_query_speed_over_many_passages(tmp_path):
    """Not a timing assertion on the CI machine; a sanity check that queries use the index."""
    docs = ((f"Doc {i}", [f"entity{i} was founded in {1800 + i % 200} in city{i % 97} by person{i % 31}."])
            for i in range(20000))
    out = tmp_path / "big.db"
    PassageStore.build(out, docs)
    store = PassageStore(out)
    start = time.perf_counter()
    for i in range(50):
        store.search(f"entity{i} founded city{i % 97}", k=5)
    per_query_ms = (time.perf_counter() - start) / 50 * 1000
    assert store.count() == 20000
    assert per_query_ms < 200  # generous: a full scan would be seconds
