import asyncio
import json
import math
import random
import sqlite3
import threading

import pytest

from factbench.cli.main import main
from factbench.evidence.backends import CorpusEvidence
from factbench.evidence.corpus import FACTSCORE_SEPARATOR, PassageStore, content_words, iter_documents
from factbench.evidence.index_bm25 import postings_path
from factbench.store.jsonl import InputFileError
from factbench.tasks import Prompt


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


def test_bm25_scores_match_a_hand_computation(tmp_path):
    # N = 3 passages, lengths 2, 3, 4 (avgdl 3); "apple" and "cherry" each occur in 2 of them:
    # idf = ln(1 + (3 - 2 + 0.5) / (2 + 0.5)) = ln 1.6 = 0.4700 for both.
    # tf part = tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * dl / 3)):
    #   p1 "apple apple cherry": apple 2 * 2.2 / 3.2 = 1.375, cherry 2.2 / 2.2 = 1 -> 0.4700 * 2.375 = 1.1163
    #   p0 "apple banana":       apple 2.2 / 1.9 = 1.1579                     -> 0.4700 * 1.1579 = 0.5442
    #   p2 "cherry durian elder fig": cherry 2.2 / 2.5 = 0.88                 -> 0.4700 * 0.88   = 0.4136
    docs = [("P0", ["apple banana"]), ("P1", ["apple apple cherry"]), ("P2", ["cherry durian elder fig"])]
    PassageStore.build(tmp_path / "c.db", docs)
    hits = PassageStore(tmp_path / "c.db").search("apple cherry", k=5)
    assert [h.title for h in hits] == ["P1", "P0", "P2"]
    for hit, expected in zip(hits, [1.1163, 0.5442, 0.4136]):
        assert math.isclose(hit.score, expected, rel_tol=2e-3)


def test_topic_restriction_and_page_fill(tmp_path):
    out = tmp_path / "c.db"
    PassageStore.build(out, _docs())
    store = PassageStore(out)
    hits = store.search("mathematician", k=5, title="Alan Turing")
    assert {h.title for h in hits} == {"Alan Turing"}
    # no word matches: the topic's own passages are still returned, in page order
    hits = store.search("zzzz qqqq", k=1, title="Ada Lovelace")
    assert hits and hits[0].title == "Ada Lovelace"
    assert store.search("mathematician", k=5, title="No Such Page") == []


def test_topic_restriction_keeps_other_documents_out_of_its_span(tmp_path):
    # "Mars" appears twice with another page in between: its span covers that page's passage,
    # which must not be returned for a Mars-restricted query even though it matches better.
    docs = [("Mars", ["red planet orbit"]), ("Venus", ["red red planet orbit hot"]), ("Mars", ["planet moons"])]
    PassageStore.build(tmp_path / "c.db", docs)
    store = PassageStore(tmp_path / "c.db")
    hits = store.search("red planet", k=5, title="Mars")
    assert [h.text for h in hits] == ["red planet orbit", "planet moons"]
    assert store.search("red planet", k=1)[0].title == "Venus"


def test_query_syntax_is_plain_words(tmp_path):
    assert content_words('NEAR(a b) AND "x" OR title:evil - 3 Awards') == ["near", "title", "evil", "3", "award"]
    PassageStore.build(tmp_path / "c.db", [("T", ['Evil "quoted" text NEAR the title'])])
    hits = PassageStore(tmp_path / "c.db").search('NEAR(a b) AND "x" OR title:evil -', k=1)
    assert hits[0].title == "T"


def test_common_words_still_rank(tmp_path):
    # Every passage shares "common"; "rareword" is in one. Both words count: the passage with
    # both ranks first, and a query of only common words still finds passages.
    docs = [(f"D{i}", [f"common filler text number{i} " + ("rareword " if i == 7 else "")]) for i in range(200)]
    PassageStore.build(tmp_path / "c.db", docs)
    store = PassageStore(tmp_path / "c.db")
    assert store.search("common rareword", k=1)[0].title == "D7"
    assert len(store.search("common filler", k=3)) == 3


def test_maxscore_equals_scoring_every_posting(tmp_path):
    rng = random.Random(3)
    vocab = [f"w{i}" for i in range(300)]
    weights = [1 / (i + 1) for i in range(len(vocab))]  # Zipf: a few very common words
    docs = [(f"D{d}", [" ".join(rng.choices(vocab, weights, k=rng.randint(5, 40))) for _ in range(5)])
            for d in range(400)]
    PassageStore.build(tmp_path / "c.db", docs)
    store = PassageStore(tmp_path / "c.db")
    queries = [" ".join(rng.choices(vocab, weights, k=rng.randint(1, 12))) for _ in range(150)]
    for k in (1, 5, 20):
        fast = store.search_many(queries, k)
        full = store.search_many(queries, k, exhaustive=True)
        assert [[(p.text, p.score) for p in r] for r in fast] == [[(p.text, p.score) for p in r] for r in full]
    assert all(len(r) == 5 for r in store.search_many(queries, 5))


def test_batch_returns_one_list_per_claim_in_order(tmp_path):
    PassageStore.build(tmp_path / "c.db", _docs())
    store = PassageStore(tmp_path / "c.db")
    claims = ["COBOL compilers", "Turing test", "no such words here", "Analytical Engine Babbage"]
    batch = store.search_many(claims, k=2)
    assert [r[0].title if r else None for r in batch] == ["Grace Hopper", "Alan Turing", None, "Ada Lovelace"]
    assert batch == [store.search(c, k=2) for c in claims]
    topic = store.search_many(claims, k=2, title="Alan Turing")
    assert all(r and {p.title for p in r} == {"Alan Turing"} for r in topic)


def test_the_backend_builds_a_passage_several_claims_retrieved_once_and_the_record_is_unchanged(tmp_path):
    from factbench.stages.evidence import retrieve_evidence

    PassageStore.build(tmp_path / "c.db", _docs())
    store = PassageStore(tmp_path / "c.db")
    backend = CorpusEvidence(str(tmp_path / "c.db"), topic=True, k=2)
    claims = ["Ada was born in 1815.", "Ada worked with Babbage.", "Ada was a mathematician."]
    prompt = Prompt(id="p", text="Who was Ada Lovelace?", topic="Ada Lovelace")
    try:
        shared, _ = asyncio.run(backend.retrieve(claims, prompt, "t"))
        record = asyncio.run(retrieve_evidence(backend, "t", prompt, claims))
    finally:
        asyncio.run(backend.aclose())
    alone = store.search_many(claims, k=2, title="Ada Lovelace")
    assert [[(p.title, p.text) for p in r] for r in shared] == [[(p.title, p.text) for p in r] for r in alone]
    by_text: dict = {}
    for r in shared:  # one object per passage (the topic has two, and each claim retrieved both)
        assert all(by_text.setdefault(p.text, p) is p for p in r)
    assert len(by_text) == 2 and sum(map(len, shared)) == 6
    # the record keeps each passage as the first claim that retrieved it scored it, as before
    first: dict[str, float | None] = {}
    for r in alone:
        for p in r:
            first.setdefault(p.text, p.score)
    assert [(p.text, p.score) for p in record.passages] == list(first.items())


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
    # each format through the command line, then searched
    for source in (jl, folder, db):
        out = tmp_path / f"{source.stem}-store.db"
        assert main(["corpus", "build", str(source), "--out", str(out)]) == 0
        assert PassageStore(out).count() == {jl: 1, folder: 1, db: 2}[source]
    assert PassageStore(tmp_path / "txt-store.db").search("gamma delta", k=1)[0].title == "Page"
    assert PassageStore(tmp_path / "enwiki-store.db").search("part two", k=1)[0].text == "part two"
    assert PassageStore(tmp_path / "docs-store.db").search("beta", k=1)[0].title == "T1"


def test_rebuild_in_place_and_from_an_older_store(tmp_path, capsys):
    out = tmp_path / "wiki.db"
    PassageStore.build(out, _docs())
    serving = PassageStore(out)
    # rebuild the store from itself (e.g. after an upgrade): same passages, new build id
    assert main(["corpus", "build", str(out), "--out", str(out)]) == 0
    rebuilt = PassageStore(out)
    assert rebuilt.meta["build"] != serving.meta["build"] and rebuilt.count() == serving.count()
    assert serving.search("COBOL", k=1)[0].title == "Grace Hopper"  # an open store keeps serving its files
    assert rebuilt.search("COBOL", k=1)[0].title == "Grace Hopper"
    # extend it: the store and a new file, rebuilt together
    extra = tmp_path / "extra.jsonl"
    extra.write_text(json.dumps({"title": "Katherine Johnson", "text": "Katherine Johnson computed orbital trajectories."}))
    assert main(["corpus", "build", str(out), str(extra), "--out", str(out)]) == 0
    extended = PassageStore(out)
    assert extended.count() == serving.count() + 1
    assert extended.search("orbital trajectories", k=1)[0].title == "Katherine Johnson"
    assert extended.search("COBOL", k=1)[0].title == "Grace Hopper"
    # a store in the former SQLite FTS5 layout: refused with the command that rebuilds it
    old = tmp_path / "old.db"
    conn = sqlite3.connect(old)
    conn.executescript("CREATE TABLE passages (id INTEGER PRIMARY KEY, title TEXT, text TEXT);"
                       "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
                       "INSERT INTO passages VALUES (1, 'Mars', 'red planet'), (2, 'Mars', 'two moons');"
                       "INSERT INTO meta VALUES ('passages', '2');")
    conn.close()
    with pytest.raises(InputFileError, match="older format; rebuild it with `factbench corpus build"):
        PassageStore(old)
    assert main(["corpus", "search", str(old), "moons"]) == 2
    assert "rebuild it with" in capsys.readouterr().err
    assert main(["corpus", "build", str(old), "--out", str(old)]) == 0
    assert [p.text for p in PassageStore(old).search("moons", k=1, title="Mars")] == ["two moons"]


def test_missing_or_mismatched_postings_file_is_a_clear_error(tmp_path):
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    PassageStore.build(a, _docs())
    PassageStore.build(b, _docs())
    postings_path(a).replace(postings_path(b))  # b now has a's postings
    with pytest.raises(InputFileError, match="another build"):
        PassageStore(b)
    with pytest.raises(InputFileError, match="cannot read the postings file"):
        PassageStore(a)


def test_backend_retrieves_off_the_event_loop(tmp_path):
    PassageStore.build(tmp_path / "c.db", _docs())
    backend = CorpusEvidence(str(tmp_path / "c.db"), topic=False, k=2)
    release, threads = threading.Event(), []
    ranked_many = backend.store.ranked_many

    def slow_search(claims, k, title):
        threads.append(threading.current_thread())
        assert release.wait(5)  # holds the index until the loop has run other work
        return ranked_many(claims, k, title)

    backend.store.ranked_many = slow_search

    async def scenario():
        task = asyncio.ensure_future(backend.retrieve(["COBOL compilers", "Turing test"], Prompt(id="p", text="q"), "t"))
        await asyncio.sleep(0.05)
        assert not task.done()  # the loop keeps running while the index works
        release.set()
        return await task

    passages, errors = asyncio.run(scenario())
    assert threads and threads[0] is not threading.main_thread()
    assert [p[0].title for p in passages] == ["Grace Hopper", "Alan Turing"] and errors == []
    assert backend.cpu_seconds > 0


def test_bad_input_leaves_the_old_store_in_place(tmp_path, capsys):
    out = tmp_path / "wiki.db"
    PassageStore.build(out, _docs())
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"title": "A", "text": "fine"}) + "\n" + json.dumps({"title": "B"}) + "\n")
    assert main(["corpus", "build", str(bad), "--out", str(out)]) == 2
    assert "needs a string field 'text'" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["corpus", "build", str(empty), "--out", str(out)]) == 2
    assert "no passages to index" in capsys.readouterr().err
    assert PassageStore(out).search("COBOL", k=1)[0].title == "Grace Hopper"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("wiki")) == ["wiki.db", "wiki.db.postings"]


def test_topic_batch_ranks_as_one_query_at_a_time(tmp_path, monkeypatch):
    """A topic's queries are scored together through a dense term x passage matrix; the ranking,
    scores and ties must be those of scoring each query alone (the sparse path, also used for very
    long documents)."""
    from factbench.evidence import index_bm25

    rng = random.Random(7)
    vocab = [f"w{i}" for i in range(60)]
    docs = [(f"Page {d}", [" ".join(rng.choice(vocab) for _ in range(rng.randint(5, 40))) for _ in range(rng.randint(1, 14))])
            for d in range(12)]
    PassageStore.build(tmp_path / "c.db", docs)
    store = PassageStore(tmp_path / "c.db")
    queries = [" ".join(rng.choice(vocab) for _ in range(rng.randint(1, 8))) for _ in range(40)] + ["w1 w1 w2", "zzz"]
    for title in ("Page 0", "Page 5", "Page 11"):
        dense = store.search_many(queries, k=4, title=title)
        monkeypatch.setattr(index_bm25, "DENSE_CELLS", 0)  # one query at a time, sparse
        sparse = store.search_many(queries, k=4, title=title)
        monkeypatch.undo()
        assert [[(p.text, p.score) for p in r] for r in dense] == [[(p.text, p.score) for p in r] for r in sparse]
        assert any(r and r[0].score for r in dense)
