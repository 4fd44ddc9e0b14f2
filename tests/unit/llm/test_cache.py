import asyncio

from factbench.llm.cache import CallCache
from factbench.llm.client import LLMClient, RoleSpec


def _client(server, cache, **kw):
    spec = RoleSpec(role="verifier", model="openai/j", base_urls=(server.base_url,), **kw)
    return LLMClient(spec, cache)


MSG = [{"role": "user", "content": "hello"}]


def test_second_call_is_a_cache_hit(server, tmp_path):
    cache = CallCache(tmp_path / "c.sqlite")
    c = _client(server, cache, params={"temperature": 0.0})
    first = asyncio.run(c.complete(MSG, template="t1"))
    second = asyncio.run(c.complete(MSG, template="t1"))
    assert not first.cached and second.cached and first.text == second.text
    assert server.state.requests.total() == 1
    assert c.stats.cache_hits == 1


def test_key_includes_params_template_model_revision_but_not_endpoint_or_transport(server, tmp_path):
    cache = CallCache(tmp_path / "c.sqlite")
    base = _client(server, cache, params={"temperature": 0.0}).key_for(MSG, "t1", None)
    assert base != _client(server, cache, params={"temperature": 0.7}).key_for(MSG, "t1", None)
    assert base != _client(server, cache, params={"temperature": 0.0}).key_for(MSG, "t2", None)
    assert base != LLMClient(RoleSpec(role="verifier", model="openai/other", base_urls=(server.base_url,),
                                      params={"temperature": 0.0}), cache).key_for(MSG, "t1", None)
    assert base != _client(server, cache, params={"temperature": 0.0}, revision="ckpt-2").key_for(MSG, "t1", None)
    assert base != _client(server, cache, params={"temperature": 0.0}, served_model="/w/b").key_for(MSG, "t1", None)
    # The same judge on another host or port, or with more replicas, is the same judge.
    moved = LLMClient(RoleSpec(role="verifier", model="openai/j", params={"temperature": 0.0},
                               base_urls=("http://127.0.0.1:1/v1", "http://10.0.0.2:8000/v1")), cache)
    assert base == moved.key_for(MSG, "t1", None)
    same = _client(server, cache, params={"temperature": 0.0}, timeout_s=5, max_concurrency=1, max_retries=0)
    assert base == same.key_for(MSG, "t1", None)


def test_stats_and_clear(tmp_path):
    cache = CallCache(tmp_path / "c.sqlite")
    cache.put("k1", "llm:verifier", {"text": "x"})
    cache.put("k2", "search:serper", [])
    stats = cache.stats()
    assert stats["entries"] == 2 and set(stats["by_namespace"]) == {"llm:verifier", "search:serper"}
    assert cache.clear("search:serper") == 1
    assert cache.get("k1") == {"text": "x"} and cache.get("k2") is None
    conn_mode = cache._conn().execute("PRAGMA journal_mode").fetchone()[0]
    assert conn_mode == "wal"


def _writer(path: str, start: int, n: int) -> None:
    cache = CallCache(path)
    for i in range(start, start + n):
        cache.put(f"k{i}", "llm:verifier", {"text": f"v{i}"})
        cache.get(f"k{i - 1}")


def test_concurrent_writer_processes_keep_the_cache_consistent(tmp_path):
    import multiprocessing as mp

    path = str(tmp_path / "shared.sqlite")
    CallCache(path)  # create the schema once
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, w * 300 - 100 * w, 300)) for w in range(3)]  # overlapping keys
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    cache = CallCache(path)
    assert cache.stats()["entries"] == 700  # keys k0 .. k699, overlaps written twice, stored once
    assert all(cache.get(f"k{i}") == {"text": f"v{i}"} for i in range(700))
    assert cache._conn().execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_put_many_and_get_many_round_trip_and_share_the_table_with_get(tmp_path):
    cache = CallCache(tmp_path / "c.sqlite")
    cache.put_many("search:serper", {f"k{i}": [{"text": f"t{i}"}] for i in range(700)})  # over one query's 500
    cache.put("single", "llm:verifier", {"text": "x"})
    got = cache.get_many([f"k{i}" for i in range(700)] + ["single", "absent", "k1"])
    assert len(got) == 701 and got["k699"] == [{"text": "t699"}] and got["single"] == {"text": "x"}
    assert "absent" not in got and cache.get("k3") == [{"text": "t3"}]
    cache.put_many("search:serper", {})  # nothing to write: no transaction
    assert cache.stats()["by_namespace"]["search:serper"]["entries"] == 700
    reopened = CallCache(tmp_path / "c.sqlite")  # committed: another connection sees every row
    assert len(reopened.get_many([f"k{i}" for i in range(700)])) == 700
