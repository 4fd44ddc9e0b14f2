"""`factbench reward serve`: the training reward as an HTTP service (aiohttp), for trainer workers.

    POST /score       {"prompts": [...], "responses": [...], "references": [...] (optional)}
                      -> {"rewards": [float|null], "masked": [bool], "details": [...], "reward_id": ...}
    POST /get_reward  OpenRLHF's remote reward model: {"query": [...], "prompts": [...], "labels": [...]}
                      -> {"rewards": [...], "scores": [...], "extra_logs": {...}}
    GET  /health      -> {"status": "ok", "reward_id": ..., "reward": {...}, "in_flight": n, "waiting": n}

One Scorer serves every request: concurrent batches share its judge pool, admitted in turn. The
service keeps no per-client state (the call cache is a shared SQLite file), so several instances
can run behind an ordinary load balancer. Bad requests get a 4xx with a message; SIGTERM/SIGINT
stop it after the requests in flight finish.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
from typing import Any

from aiohttp import web

from factbench.llm.client import redact
from factbench.pipeline.options import UsageError
from factbench.reward.scorer import Scorer

MAX_ITEMS = 4096  # per request
MAX_BODY_BYTES = 64 * 1024 * 1024
_SPECIAL = re.compile(r"<\|[^<>|]{1,40}\|>|</?s>")
_SCORER = web.AppKey("scorer", Scorer)
_MASKED = web.AppKey("masked_reward", float)


def _fields(body: Any, allowed: set[str], required: set[str]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise UsageError("the body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise UsageError(f"unknown field(s) {unknown}; this endpoint takes {sorted(allowed)}")
    missing = sorted(required - set(body))
    if missing:
        raise UsageError(f"missing field(s) {missing}")
    for name in required:
        if not isinstance(body[name], list):
            raise UsageError(f"{name!r} must be a list")
        if len(body[name]) > MAX_ITEMS:
            raise UsageError(f"{name!r} has {len(body[name])} items; at most {MAX_ITEMS} per request")
    return body


async def _body(request: web.Request) -> Any:
    try:
        return json.loads(await request.read())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"the body is not valid JSON: {exc}") from None


async def score(request: web.Request) -> web.Response:
    body = _fields(await _body(request), {"prompts", "responses", "references"}, {"prompts", "responses"})
    scorer = request.app[_SCORER]
    results = await scorer.score(body["prompts"], body["responses"], body.get("references"))
    return web.json_response({"rewards": [r.reward for r in results], "masked": [r.masked for r in results],
                              "details": [r.model_dump() for r in results], "reward_id": scorer.reward_id})


def question_from_chat(prompt: str) -> str:
    """The user's question inside a chat-templated prompt (the last user turn), else the plain text."""
    parts = _SPECIAL.split(prompt)
    question = None
    for i, part in enumerate(parts):
        head = part.strip()
        if head == "user" and i + 1 < len(parts):
            question = parts[i + 1]
        elif head.startswith("user\n"):
            question = head[len("user\n"):]
    return (question if question is not None else _SPECIAL.sub("", prompt)).strip()


def response_from_query(query: str, prompt: str, index: int) -> str:
    """OpenRLHF's `query` is prompt + response (decoded with special tokens): the response part."""
    if query.startswith(prompt):
        rest = query[len(prompt):]
    else:
        plain_query, plain_prompt = _SPECIAL.sub("", query), _SPECIAL.sub("", prompt)
        if not plain_query.startswith(plain_prompt):
            raise UsageError(f"query[{index}] does not start with prompts[{index}]")
        rest = plain_query[len(plain_prompt):]
    return _SPECIAL.sub("", rest).strip()


async def get_reward(request: web.Request) -> web.Response:
    body = _fields(await _body(request), {"query", "prompts", "labels", "metas"}, {"query", "prompts"})
    queries, prompts = body["query"], body["prompts"]
    if len(queries) != len(prompts) or not all(isinstance(x, str) for x in queries + prompts):
        raise UsageError("'query' and 'prompts' must be lists of strings of the same length")
    labels = body.get("labels") or [None] * len(prompts)
    if not isinstance(labels, list) or len(labels) != len(prompts):
        raise UsageError("'labels' must be a list as long as 'prompts'")
    responses = [response_from_query(q, p, i) for i, (q, p) in enumerate(zip(queries, prompts))]
    references = [label if isinstance(label, str) and label else None for label in labels]
    scorer = request.app[_SCORER]
    results = await scorer.score([question_from_chat(p) for p in prompts], responses,
                                 references if any(references) else None)
    masked_reward = request.app[_MASKED]
    rewards = [masked_reward if r.masked else r.reward for r in results]
    return web.json_response({"rewards": rewards, "scores": rewards, "extra_logs": {
        "factbench_masked": [float(r.masked) for r in results],
        "factbench_supported": [float(r.supported) for r in results],
        "factbench_claims": [float(r.n_claims) for r in results]}})


async def health(request: web.Request) -> web.Response:
    scorer = request.app[_SCORER]
    return web.json_response({"status": "ok", "reward_id": scorer.reward_id, "reward": scorer.identity,
                              **scorer.load()})


@web.middleware
async def _errors(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status >= 400 and exc.content_type != "application/json":
            return web.json_response({"error": exc.reason}, status=exc.status)
        raise
    except UsageError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # never a crash: the service stays up for the next request
        print(f"factbench reward: internal error on {request.path}: {type(exc).__name__}: {redact(str(exc))[:300]}",
              file=sys.stderr)
        return web.json_response({"error": f"internal error: {type(exc).__name__}"}, status=500)


def build_app(scorer: Scorer, masked_reward: float = 0.0) -> web.Application:
    app = web.Application(middlewares=[_errors], client_max_size=MAX_BODY_BYTES)
    app[_SCORER] = scorer
    app[_MASKED] = masked_reward
    app.router.add_post("/score", score)
    app.router.add_post("/get_reward", get_reward)
    app.router.add_get("/health", health)
    return app


async def _serve(scorer: Scorer, host: str, port: int, masked_reward: float) -> None:
    runner = web.AppRunner(build_app(scorer, masked_reward), access_log=None, shutdown_timeout=60.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    bound = site._server.sockets[0].getsockname()[1] if site._server and site._server.sockets else port
    print(f"factbench reward service on http://{host}:{bound} (reward {scorer.reward_id}); "
          f"POST /score, POST /get_reward, GET /health", file=sys.stderr, flush=True)
    try:
        await stop.wait()
        print("factbench reward: stopping (finishing requests in flight)", file=sys.stderr, flush=True)
    finally:
        await runner.cleanup()


def serve(scorer: Scorer, host: str = "127.0.0.1", port: int = 8100, masked_reward: float = 0.0) -> None:
    """Serve until SIGTERM or SIGINT; then finish the requests in flight and close the scorer."""
    try:
        asyncio.run(_serve(scorer, host, port, masked_reward))
    finally:
        scorer.close()
