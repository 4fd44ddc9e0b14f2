"""A scripted OpenAI-compatible server: a TEST DOUBLE and benchmark stand-in, never a scorer.

It answers factbench's requests deterministically over real HTTP, so tests and `make bench`
exercise the real client stack (aiohttp for OpenAI-compatible endpoints, factbench.llm.direct;
litellm -> openai -> httpx for other providers). It is never used by `factbench
run` unless a user points a base URL at it explicitly.

Behaviour, by the request's system prompt:
- generation (no system prompt): a fixed, prompt-dependent answer of `answer_sentences`
  sentences; sentences about "Atlantis" are false and those with "perhaps" are vague;
- claim extraction: one claim per numbered sentence (the sentence itself, written "="); sentences
  with "I think" give none; answered as the template asks, `{"claims": ["=", [], ...]}`;
- verification: "Atlantis" -> unsupported, "perhaps" -> unverifiable, else supported, judged
  on the claim's own passages only: a claim the prompt gives no passage ("[none]"), or whose
  passages `ScriptedState.supports` rejects, is unverifiable; answered as `{"labels": "SUN"}`,
  one letter per claim in order;
- relevance: the response that repeats more of the question's words wins; equal counts tie.

Timing (for benchmarks) follows the GPU model in :mod:`factbench.testing.gpu_model`: one
shared prefill engine for uncached input tokens, up to `max_seqs` sequences decoding in
parallel, prefix caching by 16-token blocks; `GET /stats` reports the work and its floor.
Faults can be scripted per test: `faults` is a list of (predicate, action) consumed in order.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from factbench.judges.templates import SAME_SENTENCE
from factbench.testing.extra_kinds import (
    EXTRA_KINDS,
    claims_with_refs,
    extra_content,
    extra_kind,
    passages_of,
    system_and_user,
)
from factbench.testing.gpu_model import GpuModel, LatencyModel, approx_tokens, render_prompt

_SENTENCE_LINE = re.compile(r"^\[(\d+)\] (.*)$")


@dataclass
class Fault:
    """Applied to the next request matching `when` (a predicate on the request body), `times` times."""

    action: str  # "status:500", "status:429", "retry_after:1", "sleep:5", "empty", "text:<content>", "length:<content>",
    # "close", "drop_last" (the right answer without its last item: a judge answering for too few items)
    when: Callable[[dict[str, Any]], bool] = lambda body: True
    times: int = 1


@dataclass
class ScriptedState:
    answer_sentences: int = 6
    latency: LatencyModel = field(default_factory=LatencyModel)
    faults: list[Fault] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    log: list[dict[str, Any]] = field(default_factory=list)
    keep_log: bool = True
    input_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    first_request_at: dict[str, float] = field(default_factory=dict)  # kind -> time.time() of its first request
    gpu: GpuModel | None = None
    # What GET /v1/models lists. None: an empty list, which pre-flight reads as "names not checked",
    # so the server answers any model name, as it always has.
    models: tuple[str, ...] | None = None
    # Verification hook: (claim, the texts of its own passages) -> whether they state it; None: any
    # passage does (the label then follows the claim's words alone).
    supports: Callable[[str, list[str]], bool] | None = None
    # Hook: answers every request instead of the rules below, e.g. factbench.testing.ground_truth.
    responder: Callable[[dict[str, Any], str], str] | None = None  # (request body, kind) -> content

    def __post_init__(self) -> None:
        if self.gpu is None:
            self.gpu = GpuModel(self.latency)


def request_kind(body: dict[str, Any]) -> str:
    system, user = system_and_user(body)
    if kind := extra_kind(system, user):
        return kind
    if system.startswith("You break a response"):
        return "extract"
    if system.startswith("You check claims"):
        return "verify"
    if system.startswith("You compare two responses"):
        return "relevance"
    return "generate"


def _block(text: str, tag: str) -> str:
    m = re.search(rf"<{tag}>\n(.*?)\n</{tag}>", text, re.DOTALL)
    return m.group(1) if m else ""


def scripted_answer(prompt: str, n: int) -> str:
    subject = re.sub(r"[^A-Za-z0-9 ]", "", prompt).strip().split(" Be thorough")[0][:60] or "The subject"
    h = int(hashlib.sha256(prompt.encode()).hexdigest(), 16)
    sentences = []
    for i in range(n):
        kind = (h >> (2 * i)) % 7
        if kind == 0:
            sentences.append(f"Records from Atlantis mention {subject} in entry {i}.")
        elif kind == 1:
            sentences.append(f"Perhaps {subject} was noted by scholars in period {i}.")
        else:
            sentences.append(f"{subject} is documented in source {i} of the archive.")
    return " ".join(sentences)


def scripted_claims(sentence: str) -> list[str]:
    """The scripted extractor: a sentence is its own claim; one with "I think" has none."""
    text = sentence.strip()
    return [] if "I think" in text else [text]


def scripted_label(claim: str) -> str:
    """The scripted verifier: "Atlantis" -> unsupported, "perhaps" -> unverifiable, else supported."""
    return ("unsupported" if "Atlantis" in claim else
            "unverifiable" if "Perhaps" in claim or "perhaps" in claim else "supported")


LETTERS = {"supported": "S", "unsupported": "U", "unverifiable": "N"}


def scripted_verdicts(user: str, supports: Callable[[str, list[str]], bool] | None = None) -> str:
    """The scripted verifier's answer to a verification prompt: each claim's label from its words
    (:func:`scripted_label`), judged on its own passages only: "supported" needs at least one
    passage, and one that `supports` accepts."""
    passages = passages_of(user)
    letters = []
    for _, claim, refs in claims_with_refs(user):
        label = scripted_label(claim)
        if label == "supported" and refs is not None and \
                (not refs or (supports is not None and not supports(claim, [passages.get(r, "") for r in refs]))):
            label = "unverifiable"
        letters.append(LETTERS[label])
    return json.dumps({"labels": "".join(letters)})


def scripted_content(body: dict[str, Any], state: ScriptedState) -> str:
    kind = request_kind(body)
    if state.responder is not None:
        return state.responder(body, kind)
    if kind in EXTRA_KINDS:
        return extra_content(body, kind)
    user = next((m.get("content", "") for m in body["messages"] if m.get("role") == "user"), "")
    if kind == "extract":  # the compact format the extraction template asks for: one list per sentence
        sentences = [m.group(2) for m in map(_SENTENCE_LINE.match, _block(user, "sentences").splitlines()) if m]
        return json.dumps({"claims": [SAME_SENTENCE if c == [s] else c for s, c in ((s, scripted_claims(s))
                                                                                    for s in sentences)]})
    if kind == "verify":  # one label letter per claim, in order
        return scripted_verdicts(user, state.supports)
    if kind == "relevance":
        words = set(re.findall(r"[a-z]{4,}", _block(user, "question").lower()))
        score_a = len(words & set(re.findall(r"[a-z]{4,}", _block(user, "response_a").lower())))
        score_b = len(words & set(re.findall(r"[a-z]{4,}", _block(user, "response_b").lower())))
        winner = "A" if score_a > score_b else "B" if score_b > score_a else "tie"
        return json.dumps({"winner": winner})
    return scripted_answer(user, state.answer_sentences)


class ScriptedServer:
    """Runs the app on 127.0.0.1 in a background thread. `base_url` ends with /v1."""

    def __init__(self, state: ScriptedState | None = None, port: int = 0):
        self.state = state or ScriptedState()
        self._port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _take_fault(self, body: dict[str, Any]) -> str | None:
        for fault in self.state.faults:
            if fault.times > 0 and fault.when(body):
                fault.times -= 1
                return fault.action
        return None

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        state = self.state
        kind = request_kind(body)
        state.first_request_at.setdefault(kind, time.time())
        state.requests[kind] += 1
        if state.keep_log:
            state.log.append(body)
        action = self._take_fault(body)
        if action:
            name, _, arg = action.partition(":")
            if name == "status":
                return web.json_response({"error": {"message": f"scripted {arg}"}}, status=int(arg))
            if name == "retry_after":
                return web.json_response({"error": {"message": "slow down"}}, status=429,
                                         headers={"Retry-After": arg})
            if name == "sleep":
                await asyncio.sleep(float(arg))
            if name == "close":
                if request.transport is not None:
                    request.transport.close()
                raise ConnectionResetError("scripted close")
        content = scripted_content(body, state)
        finish = "stop"
        if action and action.startswith("text:"):
            content = action[len("text:"):]
        elif action and action.startswith("length:"):
            content, finish = action[len("length:"):], "length"
        elif action == "empty":
            content = ""
        elif action == "drop_last":
            data = json.loads(content)
            key = next(k for k, v in data.items() if isinstance(v, (list, str)))  # a list, or a string of letters
            data[key] = data[key][:-1]
            content = json.dumps(data)
        output_tokens = approx_tokens(content)
        messages = body.get("messages") or []
        system = next((m.get("content", "") for m in messages if m.get("role") == "system"), "")
        assert state.gpu is not None  # made in __post_init__ when not given
        input_tokens, cached = await state.gpu.serve(kind, render_prompt(messages), output_tokens, system)
        state.input_tokens += input_tokens
        state.cached_tokens += cached
        state.output_tokens += output_tokens
        return web.json_response({
            "id": f"chatcmpl-{state.requests.total()}", "object": "chat.completion", "created": int(time.time()),
            "model": body.get("model", "scripted"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": finish}],
            "usage": {"prompt_tokens": input_tokens, "completion_tokens": output_tokens,
                      "total_tokens": input_tokens + output_tokens},
        })

    async def _stats(self, request: web.Request) -> web.Response:
        st = self.state
        assert st.gpu is not None  # made in __post_init__ when not given
        return web.json_response({"requests": dict(st.requests), "input_tokens": st.input_tokens,
                                  "cached_tokens": st.cached_tokens, "output_tokens": st.output_tokens,
                                  "first_request_at": st.first_request_at, **st.gpu.stats()})

    async def _log(self, request: web.Request) -> web.Response:
        """The logged request bodies of one kind (`?kind=verify`), for benchmarks that inspect prompts."""
        kind = request.query.get("kind")
        return web.json_response([b for b in self.state.log if kind is None or request_kind(b) == kind])

    async def _models(self, request: web.Request) -> web.Response:
        names = self.state.models or ()
        return web.json_response({"object": "list", "data": [{"id": n, "object": "model"} for n in names]})

    async def _start(self, ready: threading.Event) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/health", self._models)
        app.router.add_get("/stats", self._stats)
        app.router.add_get("/log", self._log)
        # A client that abandons a request closes its connection; the handler then stops, as a
        # serving engine aborts a request whose client went away (a "sleep:" fault does not outlive it).
        self._runner = runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", self._port, backlog=4096)
        await site.start()
        assert isinstance(site._server, asyncio.Server)  # a started TCPSite listens on a socket
        self.port = site._server.sockets[0].getsockname()[1]
        ready.set()

    def start(self) -> ScriptedServer:
        ready = threading.Event()
        self._loop = loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self._start(ready))
            loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True, name="scripted-server")
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("scripted server did not start")
        return self

    def stop(self) -> None:
        loop, runner, thread = self._loop, self._runner, self._thread
        if loop is None or runner is None or thread is None:
            return
        fut = asyncio.run_coroutine_threadsafe(runner.cleanup(), loop)
        try:
            fut.result(5)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
            self._loop = None

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> None:
    """`python -m factbench.testing.scripted_server --port 8011`: a stand-alone server for manual runs."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8011)
    parser.add_argument("--answer-sentences", type=int, default=6)
    parser.add_argument("--prefill-tokens-per-s", type=float, default=0.0, help="0: no simulated time")
    parser.add_argument("--decode-tokens-per-s", type=float, default=0.0)
    parser.add_argument("--max-seqs", type=int, default=256)
    parser.add_argument("--no-prefix-cache", action="store_true")
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--models", default="", help="comma-separated names GET /v1/models lists (default: none)")
    args = parser.parse_args()
    latency = LatencyModel(args.prefill_tokens_per_s, args.decode_tokens_per_s, args.max_seqs,
                           not args.no_prefix_cache, args.speed)
    state = ScriptedState(answer_sentences=args.answer_sentences, latency=latency, keep_log=False,
                          models=tuple(n for n in args.models.split(",") if n) or None)
    server = ScriptedServer(state, port=args.port).start()
    print(f"scripted server on {server.base_url} (test double)", flush=True)
    serve_until_interrupted(server)


def serve_until_interrupted(server: ScriptedServer) -> None:
    """Keep a started server up until Ctrl-C (the command-line entry points of the test doubles)."""
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
