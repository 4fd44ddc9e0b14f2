"""Evidence backends, named by `--evidence SPEC` = NAME[:ARG][?OPTIONS].

Each NAME is an entry point of the `factbench.evidence` group (a factory
``open(arg, options, cache) -> EvidenceBackend``), so a package can ship its own backend;
the built-ins are registered the same way in factbench's pyproject.toml:

    none                      the judge's own knowledge (marked as such in every result)
    corpus:PATH[#topic]       local passage store; `#topic` restricts to the prompt's topic document
    serper                    web search through Serper (SERPER_API_KEY), cached
    snapshot:RUN_DIR          the evidence an earlier run stored: no network, drift made visible
    auto                      each task's default; the run fails, naming what to set, when it is unavailable
Options follow `?`: `corpus:wiki.db#topic?k=10` (the default), `serper?k=5` (the default).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from factbench.evidence.corpus import PassageStore
from factbench.llm.cache import CallCache, cache_key
from factbench.llm.client import redact
from factbench.plugins import Plugin, load_plugins
from factbench.retry import backoff_delay
from factbench.store.jsonl import InputFileError
from factbench.store.records import ClaimsRecord, EvidenceRecord, Passage, StageFiles, sample_key
from factbench.tasks import Prompt

SERPER_URL = "https://google.serper.dev/search"
SERPER_URL_ENV = "FACTBENCH_SERPER_URL"  # a Serper-compatible endpoint (proxies, test stand-ins)
SERPER_KEY_ENV = "SERPER_API_KEY"
DEFAULT_K = 5
# A claim is judged on sentence excerpts of its passages, so a deeper list costs search time, not
# judge tokens: a claim whose fact sits in its 6th-10th passage still finds it.
CORPUS_K = 10
SERPER_ATTEMPTS = 4
SERPER_BATCH = 100  # queries per search request, at most (an answer's claims are usually fewer)


class EvidenceUnavailable(Exception):
    """The backend cannot be used here (missing file, key, or snapshot)."""


class EvidenceBackend(Protocol):
    """What the evidence stage needs of a backend. Opened by its factory, closed by `aclose`."""

    name: str  # recorded in results, e.g. "corpus:wiki.db#topic?k=5"
    uses_evidence: bool  # False: the judge relies on its own knowledge (the `none` backend)

    async def retrieve(self, claims: list[str], prompt: Prompt, task: str) -> tuple[list[list[Passage]], list[str]]:
        """Passages per claim, and error kinds."""

    async def aclose(self) -> None:
        """Release connections and files; called once at the end of a run."""


class Backend:
    """Defaults for the EvidenceBackend protocol."""

    name = "?"
    uses_evidence = True

    async def aclose(self) -> None:
        return None


class NoEvidence(Backend):
    name = "none"
    uses_evidence = False

    async def retrieve(self, claims, prompt, task):
        return [[] for _ in claims], []


class CorpusEvidence(Backend):
    """The local passage store. All claims of an answer are retrieved in one call. A search over
    the whole corpus runs on a worker thread, so the run's event loop never waits on the index; a
    search within one page (`#topic`) scores only that page's passages, a few milliseconds per
    answer, and runs on the loop itself: handing it to a thread cost more CPU than the search
    (the two threads take turns with the GIL). `cpu_seconds` counts the CPU that retrieval itself
    used (kept apart from the rest of the harness's CPU)."""

    # One thread: a second one barely adds throughput (both need the GIL) and, measured, makes the
    # event loop wait several times longer for it (bench/retrieval.py reports the longest stall).
    workers = 1

    def __init__(self, path: str, topic: bool, k: int):
        try:
            self.store = PassageStore(path)
        except (FileNotFoundError, InputFileError) as exc:
            raise EvidenceUnavailable(str(exc)) from exc
        self.topic, self.k = topic, k
        self.name = f"corpus:{Path(path).name}{'#topic' if topic else ''}?k={k}"
        self.cpu_seconds = 0.0
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="corpus")
        self._cpu_lock = threading.Lock()

    def _search(self, claims: list[str], title: str | None) -> list[list[Passage]]:
        """The claims' ranked passages. A passage several of them retrieved is one object, scored
        for the first of them: the answer's evidence record keeps each passage once, as first
        retrieved, so building it again per claim would only cost time."""
        start = time.thread_time()
        try:
            ranked, texts = self.store.ranked_many(claims, self.k, title)
            made: dict[int, Passage] = {}
            for pairs in ranked:
                for pid, score in pairs:
                    if pid not in made:
                        made[pid] = self.store.passage(texts[pid], score)
            return [[made[pid] for pid, _ in pairs] for pairs in ranked]
        finally:
            with self._cpu_lock:
                self.cpu_seconds += time.thread_time() - start

    async def retrieve(self, claims, prompt, task):
        if self.topic and not prompt.topic:
            return [[] for _ in claims], ["no_topic"] * len(claims)
        if self.topic:
            return self._search(list(claims), prompt.topic), []
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._search, list(claims), None), []

    async def aclose(self) -> None:
        self._pool.shutdown(wait=True)
        self.store.close()


class SerperEvidence(Backend):

    def __init__(self, cache: CallCache | None, k: int, max_concurrency: int = 8, timeout_s: float = 30.0):
        self.key = os.environ.get(SERPER_KEY_ENV)
        if not self.key:
            raise EvidenceUnavailable(f"web search needs the environment variable {SERPER_KEY_ENV}")
        self.cache, self.k, self.timeout_s = cache, k, timeout_s
        self.url = os.environ.get(SERPER_URL_ENV, SERPER_URL)
        self.name = f"serper?k={k}"
        self._sem: asyncio.Semaphore | None = None
        self._max = max_concurrency
        self._headers = {"X-API-KEY": self.key, "Content-Type": "application/json"}
        self._timeout: Any = None  # aiohttp.ClientTimeout, made with the first request (aiohttp loads lazily)
        self._batches = True  # until the endpoint shows it does not take a list of queries

    def _key(self, query: str) -> str:
        return cache_key("search", {"engine": "serper", "q": query, "k": self.k})

    async def _post(self, payload: Any) -> tuple[Any, str | None, int]:
        """POST `payload` as JSON: (decoded reply, None, 200), or (None, error, HTTP status or 0).
        A 429, a 5xx or a network failure is retried; another 4xx is not."""
        import aiohttp

        from factbench.llm.sessions import session

        if self._sem is None:
            self._sem = asyncio.Semaphore(self._max)
            self._timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        http = await session("search", self._max)  # aiohttp: a fraction of httpx's CPU per request
        body = json.dumps(payload).encode("utf-8")
        async with self._sem:
            for attempt in range(SERPER_ATTEMPTS):
                last = attempt == SERPER_ATTEMPTS - 1
                try:
                    async with http.post(self.url, data=body, headers=self._headers, timeout=self._timeout) as resp:
                        if 400 <= resp.status < 500 and resp.status != 429:
                            return None, f"search_failed: HTTP {resp.status}", resp.status
                        if resp.status == 429 or resp.status >= 500:
                            if last:
                                return None, f"search_failed: HTTP {resp.status}", resp.status
                            await asyncio.sleep(backoff_delay(attempt))
                            continue
                        return json.loads(await resp.read()), None, resp.status
                except Exception as exc:  # network failures are counted, not fatal
                    if last:
                        return None, f"search_failed: {redact(str(exc))[:120]}", 0
                    await asyncio.sleep(backoff_delay(attempt))
        raise AssertionError("unreachable")

    def _passages(self, data: Any) -> list[dict[str, str]] | None:
        """The passages (as dicts) of one query's results, or None when `data` is not a result object."""
        if not isinstance(data, dict):
            return None
        passages = []
        for box in ("answerBox", "knowledgeGraph"):
            item = data.get(box) or {}
            text = item.get("snippet") or item.get("answer") or item.get("description")
            if text:
                passages.append({"text": text, "title": item.get("title", box), "source": item.get("link", "")})
        for item in data.get("organic", [])[: self.k]:
            if item.get("snippet"):
                passages.append({"text": item["snippet"], "title": item.get("title", ""), "source": item.get("link", "")})
        return passages[: self.k]

    async def _search(self, query: str) -> tuple[list[dict[str, str]] | None, str | None]:
        """One query's passages (as dicts), or None and the error."""
        data, error, _ = await self._post({"q": query, "num": self.k})
        if error is not None:
            return None, error
        passages = self._passages(data)
        return (passages, None) if passages is not None else (None, "search_failed: not a result object")

    async def _search_batch(self, queries: list[str]) -> list[tuple[list[dict[str, str]] | None, str | None]]:
        """Several queries' passages from one request: Serper takes a JSON list of queries and
        answers with the list of their results, in order (the per-request CPU and round trip are
        paid once per answer, not once per claim). An endpoint that refuses a list (a 4xx) or does
        not answer with one of the same length is asked one query per request from then on, with
        a warning: the results are the same, only slower to get."""
        if len(queries) == 1 or not self._batches:
            return list(await asyncio.gather(*(self._search(q) for q in queries)))
        data, error, status = await self._post([{"q": q, "num": self.k} for q in queries])
        refused = error is not None and 400 <= status < 500 and status not in (401, 403, 429)
        not_a_list = error is None and not (isinstance(data, list) and len(data) == len(queries))
        if refused or not_a_list:
            self._batches = False
            print(f"warning: the search endpoint {redact(self.url)} does not answer a list of queries "
                  f"({error or 'the reply is not a list of results'}); searching one query per request",
                  file=sys.stderr)
            return await self._search_batch(queries)
        if error is not None:
            return [(None, error)] * len(queries)
        out = [self._passages(item) for item in data]
        return [(p, None) if p is not None else (None, "search_failed: not a result object") for p in out]

    async def retrieve(self, claims, prompt, task):
        """The answer's claims looked up in the cache at once; the rest (each distinct query once)
        searched in batches of up to SERPER_BATCH queries and stored in one cache transaction."""
        keys = {query: self._key(query) for query in claims}
        found = self.cache.get_many(list(keys.values())) if self.cache else {}
        missing = [q for q in keys if keys[q] not in found]
        errors: dict[str, str] = {}
        fresh: dict[str, Any] = {}
        batches = [missing[i:i + SERPER_BATCH] for i in range(0, len(missing), SERPER_BATCH)]
        results = [r for batch in await asyncio.gather(*(self._search_batch(b) for b in batches)) for r in batch]
        for query, (passages, error) in zip(missing, results):
            if passages is None:
                errors[query] = error or "search_failed"
            else:
                fresh[keys[query]] = passages
        if self.cache:
            self.cache.put_many("search:serper", fresh)
        found.update(fresh)
        made: dict[tuple[str, str, str], Passage] = {}  # a result several claims got is one object

        def passage(p: dict[str, str]) -> Passage:
            key = (p.get("title", ""), p.get("text", ""), p.get("source", ""))
            if key not in made:
                made[key] = Passage(title=key[0], text=key[1], source=key[2])
            return made[key]

        out = [[passage(p) for p in found[keys[c]]] if keys[c] in found else [] for c in claims]
        return out, [errors[c] for c in claims if c in errors]

    async def aclose(self) -> None:
        self._sem = None  # bound to this loop; the pooled session is closed when the loop shuts down


class SnapshotEvidence(Backend):
    """Evidence stored by an earlier run, looked up by (task, id, claim text)."""

    def __init__(self, run_dir: str):
        from factbench.store.run_dir import RunStore

        store = RunStore(run_dir, StageFiles({"claims": ClaimsRecord, "evidence": EvidenceRecord}))
        if not store.path("evidence").exists():
            raise EvidenceUnavailable(f"{run_dir} has no evidence.jsonl to replay")
        claims = store.load_latest("claims")
        self.table: dict[tuple[str, str], list[Passage]] = {}
        backends = set()
        for key, ev in store.load_latest("evidence").items():
            rec = claims.get(key)
            if not isinstance(rec, ClaimsRecord) or not isinstance(ev, EvidenceRecord):
                continue
            backends.add(ev.backend)
            for claim, idx in zip(rec.claims, ev.per_claim):
                self.table[(key, claim.text)] = [ev.passages[i] for i in idx]
        self.name = f"snapshot:{Path(run_dir).name}({','.join(sorted(backends))})"

    async def retrieve(self, claims, prompt, task):
        key = sample_key(task, prompt.id)
        out, errors = [], []
        for c in claims:
            found = self.table.get((key, c))
            if found is None:
                errors.append("not_in_snapshot")
            out.append(found or [])
        return out, errors


def _options(spec: str) -> tuple[str, dict[str, str]]:
    base, _, query = spec.partition("?")
    opts = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
    return base, opts


def open_none(arg: str, options: dict[str, str], cache: CallCache | None) -> NoEvidence:
    return NoEvidence()


def open_serper(arg: str, options: dict[str, str], cache: CallCache | None) -> SerperEvidence:
    return SerperEvidence(cache, int(options.get("k", DEFAULT_K)))


def open_corpus(arg: str, options: dict[str, str], cache: CallCache | None) -> CorpusEvidence:
    path, _, frag = arg.partition("#")
    expanded = os.path.expandvars(path)
    if "$" in expanded or not expanded:
        raise EvidenceUnavailable(f"corpus:{arg}: the variable in {path!r} is not set")
    return CorpusEvidence(expanded, topic=(frag == "topic"), k=int(options.get("k", CORPUS_K)))


def open_snapshot(arg: str, options: dict[str, str], cache: CallCache | None) -> SnapshotEvidence:
    return SnapshotEvidence(arg)


def discover_backends() -> dict[str, Plugin]:
    """Backend factories registered under `factbench.evidence`, by name."""
    return load_plugins("evidence", callable, lambda f: "", expand=False)


TASK_DEFAULT = ("auto", "default")  # `--evidence` values meaning "each task's default, or fail"


@dataclass(frozen=True)
class EvidenceChoice:
    """`--evidence` / `evidence=` parsed once: a backend spec, or each task's own default
    (`auto` and `default` mean exactly that, for a run, a Scorer and calibration alike)."""

    spec: str | None  # None: the task's default

    @classmethod
    def parse(cls, text: str) -> EvidenceChoice:
        text = text.strip()
        return cls(None if text in TASK_DEFAULT else text)

    @property
    def by_default(self) -> bool:
        return self.spec is None

    def for_task(self, default_evidence: str) -> str:
        """The spec a task with this default evidence uses."""
        return default_evidence if self.spec is None else self.spec


def open_backend(spec: str, cache: CallCache | None) -> EvidenceBackend:
    """Open the backend a spec names; raises EvidenceUnavailable with the reason when it cannot."""
    base, opts = _options(spec.strip())
    name, _, arg = base.partition(":")
    backends = discover_backends()
    if name not in backends:
        raise EvidenceUnavailable(f"unknown evidence backend {spec!r} (registered: {', '.join(sorted(backends))}; "
                                  "e.g. none, corpus:PATH[#topic], serper, snapshot:RUN_DIR)")
    try:
        return backends[name].obj(arg, opts, cache)
    except ValueError as exc:
        raise EvidenceUnavailable(f"{spec}: bad option ({exc})") from exc
