import asyncio
import json
import threading

import pytest
from aiohttp import web
from conftest import role_args, write_longfact_fixture

from factbench.cli.main import main
from factbench.evidence.backends import EvidenceUnavailable, open_backend
from factbench.evidence.corpus import PassageStore
from factbench.stages.evidence import retrieve_evidence
from factbench.tasks import Prompt
from factbench.testing.scripted_server import request_kind


def _corpus(tmp_path):
    docs = [(f"Object {t}-{i}", [f"Object {t}-{i} is documented in source {i} of the archive and in the museum."])
            for t in range(2) for i in range(3)]
    path = tmp_path / "corpus.db"
    PassageStore.build(path, docs)
    return path


def test_backend_specs(tmp_path, monkeypatch):
    assert open_backend("none", None).name == "none"
    with pytest.raises(EvidenceUnavailable, match="SERPER_API_KEY"):
        open_backend("serper", None)
    with pytest.raises(EvidenceUnavailable, match="not set"):
        open_backend("corpus:$NO_SUCH_VAR#topic", None)
    with pytest.raises(EvidenceUnavailable, match="not found"):
        open_backend(f"corpus:{tmp_path}/missing.db", None)
    monkeypatch.setenv("WIKI_DB", str(_corpus(tmp_path)))
    backend = open_backend("corpus:$WIKI_DB#topic?k=2", None)
    assert backend.name == "corpus:corpus.db#topic?k=2"


def test_evidence_record_deduplicates_passages(tmp_path):
    backend = open_backend(f"corpus:{_corpus(tmp_path)}?k=3", None)
    rec = asyncio.run(retrieve_evidence(backend, "t", Prompt(id="p", text="q"),
                                        ["Object 0-1 is in the archive.", "Object 0-1 is in the museum."]))
    assert len(rec.per_claim) == 2
    assert rec.per_claim[0][0] == rec.per_claim[1][0]  # the same best passage stored once
    assert len(rec.passages) == len({p.text for p in rec.passages})


def test_run_with_corpus_evidence_puts_passages_in_the_judge_prompt(tmp_path, server):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=2)
    corpus = _corpus(tmp_path)
    rc = main(["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(tmp_path),
               "--run-id", "c", "--evidence", f"corpus:{corpus}"] + role_args(server.base_url, evidence=None))
    assert rc == 0
    ev = [json.loads(x) for x in (tmp_path / "c" / "evidence.jsonl").read_text().splitlines()]
    assert all(r["backend"] == "corpus:corpus.db?k=10" and r["passages"] for r in ev)
    verify_prompts = [b["messages"][1]["content"] for b in server.state.log if request_kind(b) == "verify"]
    assert verify_prompts and all("<passages>" in p and "archive" in p for p in verify_prompts)
    spec = json.loads((tmp_path / "c" / "run.json").read_text())
    assert "verify-ternary-evidence" in spec["identity"]["templates"]

    # Re-scoring from the snapshot needs neither the corpus nor the network, and agrees.
    corpus.unlink()
    rc = main(["score", str(tmp_path / "c"), "--evidence", f"snapshot:{tmp_path / 'c'}", "--judge", "openai/judge",
               "--judge-base-url", server.base_url, "--data-dir", str(data), "--results-dir", str(tmp_path),
               "--run-id", "snap", "--no-progress"])
    assert rc == 0
    a = [json.loads(x)["labels"] for x in (tmp_path / "c" / "verdicts.jsonl").read_text().splitlines()]
    b = [json.loads(x)["labels"] for x in (tmp_path / "snap" / "verdicts.jsonl").read_text().splitlines()]
    assert sorted(a) == sorted(b)
    snap_ev = [json.loads(x) for x in (tmp_path / "snap" / "evidence.jsonl").read_text().splitlines()]
    assert all(r["backend"].startswith("snapshot:c(corpus:corpus.db") and not r["errors"] for r in snap_ev)


def test_knowledge_only_verification_is_marked(tmp_path, server):
    data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=1)
    assert main(["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(tmp_path),
                 "--run-id", "k", "--evidence", "none"] + role_args(server.base_url)) == 0
    verdict = json.loads((tmp_path / "k" / "verdicts.jsonl").read_text().splitlines()[0])
    assert verdict["evidence_backend"] == "none" and "knowledge" in verdict["verifier"]
    summary = json.loads((tmp_path / "k" / "summary.json").read_text())
    assert summary["tasks"]["longfact-objects"]["evidence"] == "none"


class _SearchStandIn:
    """A local Serper-compatible endpoint: POST /search with one query, or a list of them (answered
    with a list) -> three organic results per query. `batches=False`: a list gets HTTP 400."""

    def __init__(self, batches: bool = True):
        self.seen: list[tuple[str | None, str]] = []
        self.requests = 0
        self.batches = batches
        self.loop = asyncio.new_event_loop()
        self.port: int | None = None
        ready = threading.Event()
        threading.Thread(target=self._serve, args=(ready,), daemon=True).start()
        ready.wait(10)

    async def _search(self, request):
        body = await request.json()
        self.requests += 1
        if isinstance(body, list) and not self.batches:
            return web.json_response({"message": "expected an object"}, status=400)
        queries = body if isinstance(body, list) else [body]
        self.seen += [(request.headers.get("X-API-KEY"), q["q"]) for q in queries]
        results = [{"organic": [
            {"title": f"Result {i}", "snippet": f"{q['q']} (snippet {i})", "link": f"https://example.org/{i}"}
            for i in range(3)]} for q in queries]
        return web.json_response(results if isinstance(body, list) else results[0])

    def _serve(self, ready):
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_post("/search", self._search)
        self.runner = web.AppRunner(app)

        async def go():
            await self.runner.setup()
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]
            ready.set()

        self.loop.run_until_complete(go())
        self.loop.run_forever()

    def close(self):
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)


def test_serper_backend_is_async_cached_and_snapshotted(tmp_path, server, monkeypatch):
    search = _SearchStandIn()
    try:
        monkeypatch.setenv("SERPER_API_KEY", "test-serper-key-000")
        monkeypatch.setenv("FACTBENCH_SERPER_URL", f"http://127.0.0.1:{search.port}/search")
        data = write_longfact_fixture(tmp_path / "data", n_topics=1, per_topic=2)
        args = ["run", "--tasks", "longfact-objects", "--data-dir", str(data), "--results-dir", str(tmp_path),
                "--evidence", "serper?k=2"] + role_args(server.base_url, evidence=None)
        assert main(args + ["--run-id", "web"]) == 0
        n_claims = sum(len(json.loads(x)["claims"]) for x in (tmp_path / "web" / "claims.jsonl").read_text().splitlines())
        assert len(search.seen) == n_claims > 0
        assert all(key == "test-serper-key-000" for key, _ in search.seen)
        ev = [json.loads(x) for x in (tmp_path / "web" / "evidence.jsonl").read_text().splitlines()]
        assert all(r["backend"] == "serper?k=2" and all(len(ids) == 2 for ids in r["per_claim"]) for r in ev)
        assert all(p["source"].startswith("https://example.org/") for r in ev for p in r["passages"])
        assert main(args + ["--run-id", "web2"]) == 0
        assert len(search.seen) == n_claims  # the second run's searches all came from the cache
        for path in (tmp_path / "web").iterdir():
            assert b"test-serper-key-000" not in path.read_bytes()
    finally:
        search.close()


def test_serper_searches_each_distinct_claim_once_and_caches_in_one_go(tmp_path, monkeypatch):
    from factbench.llm.cache import CallCache

    search = _SearchStandIn()
    try:
        monkeypatch.setenv("SERPER_API_KEY", "test-serper-key-000")
        monkeypatch.setenv("FACTBENCH_SERPER_URL", f"http://127.0.0.1:{search.port}/search")
        cache = CallCache(tmp_path / "c.sqlite")
        prompt = Prompt(id="p1", text="Tell me about A.")
        claims = ["A is red.", "A is big.", "A is red."]

        async def retrieve():
            backend = open_backend("serper?k=2", cache)
            try:
                return await backend.retrieve(claims, prompt, "t")
            finally:
                await backend.aclose()

        fresh, errors = asyncio.run(retrieve())
        assert errors == [] and sorted(q for _, q in search.seen) == ["A is big.", "A is red."]
        assert search.requests == 1  # the answer's distinct claims went out as one list
        assert [[p.text for p in ps] for ps in fresh] == [
            ["A is red. (snippet 0)", "A is red. (snippet 1)"], ["A is big. (snippet 0)", "A is big. (snippet 1)"],
            ["A is red. (snippet 0)", "A is red. (snippet 1)"]]
        assert cache.stats()["by_namespace"]["search:serper"]["entries"] == 2
        again, _ = asyncio.run(retrieve())
        assert len(search.seen) == 2 and again == fresh  # served from the cache, the same passages
    finally:
        search.close()


def test_an_endpoint_that_refuses_a_list_of_queries_is_asked_one_query_at_a_time(tmp_path, monkeypatch, capsys):
    batched, single = _SearchStandIn(), _SearchStandIn(batches=False)
    claims = ["A is red.", "A is big.", "A is old."]
    try:
        monkeypatch.setenv("SERPER_API_KEY", "test-serper-key-000")

        async def retrieve(stand_in):
            monkeypatch.setenv("FACTBENCH_SERPER_URL", f"http://127.0.0.1:{stand_in.port}/search")
            backend = open_backend("serper?k=2", None)
            try:
                first = await backend.retrieve(claims, Prompt(id="p1", text="?"), "t")
                second = await backend.retrieve(["B is new."], Prompt(id="p2", text="?"), "t")
                return first, second
            finally:
                await backend.aclose()

        expected = asyncio.run(retrieve(batched))
        assert batched.requests == 2 and capsys.readouterr().err == ""
        assert asyncio.run(retrieve(single)) == expected  # the same passages, no errors
        # the refused list, then one request per query; the backend remembers and sends no list again
        assert single.requests == 1 + len(claims) + 1
        err = capsys.readouterr().err
        assert "does not answer a list of queries" in err and "HTTP 400" in err and "test-serper-key" not in err
    finally:
        batched.close()
        single.close()


def test_serper_failures_are_per_claim_errors_and_never_cached(tmp_path, monkeypatch):
    from factbench.evidence import backends
    from factbench.llm.cache import CallCache

    monkeypatch.setenv("SERPER_API_KEY", "test-serper-key-000")
    monkeypatch.setenv("FACTBENCH_SERPER_URL", "http://127.0.0.1:1/search")  # nothing listens there
    monkeypatch.setattr(backends, "backoff_delay", lambda attempt: 0.0)
    cache = CallCache(tmp_path / "c.sqlite")

    async def retrieve():
        backend = open_backend("serper", cache)
        try:
            return await backend.retrieve(["A is red.", "A is big."], Prompt(id="p1", text="?"), "t")
        finally:
            await backend.aclose()

    passages, errors = asyncio.run(retrieve())
    assert passages == [[], []] and len(errors) == 2 and all(e.startswith("search_failed") for e in errors)
    assert cache.stats()["entries"] == 0
