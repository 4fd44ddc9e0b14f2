"""`factbench reward serve`: the training reward as an HTTP service (aiohttp), for trainer workers.

    POST /score       {"prompts": [...], "responses": [...], "references": [...] (optional)}
                      -> {"rewards": [float|null], "masked": [bool], "details": [...], "reward_id": ...}
    POST /get_reward  OpenRLHF's remote reward model: {"query": [...], "prompts": [...], "labels": [...]}
                      -> {"rewards": [...], "scores": [...], "extra_logs": {...}}
    GET  /health      -> {"status": "ok"|"degraded", "degraded": {role: ...}, "reward_id": ..., "reward": {...},
                          "in_flight": n, "waiting": n}

One Scorer serves every request: concurrent batches share its judge pool, admitted in turn. The
service keeps no per-client state (the call cache is a shared SQLite file), so several instances
can run behind an ordinary load balancer. Bad requests get a 4xx with a message; SIGTERM/SIGINT
stop it after the requests in flight finish. With an API key (`--api-key-env`), every request must
carry it (`Authorization: Bearer KEY`, or HTTP basic auth with KEY as the password) or gets 401.
While a judge is down, answers are masked and /health says which role is degraded; the judge is
probed after each cool-down and the service recovers by itself once it answers (llm/pool.py).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import ipaddress
import json
import signal
import sys
from typing import Any

from aiohttp import web

from factbench.llm.client import redact
from factbench.pipeline.options import UsageError
from factbench.reward.adapters import usable_references
from factbench.reward.openrlhf import QueryMismatch, answer_from_query, question_from_prompt
from factbench.reward.scorer import Scorer

MAX_ITEMS = 4096  # per request
MAX_BODY_BYTES = 64 * 1024 * 1024
_SCORER = web.AppKey("scorer", Scorer)
_MASKED = web.AppKey("masked_reward", float)
_KEY = web.AppKey("api_key", bytes)


def _fields(body: Any, allowed: set[str], required: set[str]) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise UsageError("the body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise UsageError(f"unknown field(s) {unknown}; this endpoint takes {sorted(allowed)}")
    missing = sorted(required - set(body))
    if missing:
        raise UsageError(f"missing field(s) {missing}")
    for name in allowed & set(body):
        if body[name] is None and name not in required:
            continue
        if not isinstance(body[name], list):
            raise UsageError(f"{name!r} must be a list")
        if len(body[name]) > MAX_ITEMS:
            raise UsageError(f"{name!r} has {len(body[name])} items; at most {MAX_ITEMS} per request")
    return body


def _strings(body: dict[str, Any], name: str, *, nulls: bool = False) -> list[Any]:
    """body[name] as a list of strings (or nulls), each valid Unicode."""
    values = body[name]
    for i, v in enumerate(values):
        if v is None and nulls:
            continue
        if not isinstance(v, str):
            raise UsageError(f"{name}[{i}] must be a string{' or null' if nulls else ''}, got {_json_type(v)}")
        try:
            v.encode("utf-8")
        except UnicodeEncodeError:
            raise UsageError(f"{name}[{i}] is not valid Unicode (a lone surrogate such as \\ud800)") from None
    return values


def _json_type(value: Any) -> str:
    return {dict: "an object", list: "a list", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), "null" if value is None else type(value).__name__)


async def _body(request: web.Request) -> Any:
    try:
        return json.loads(await request.read())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"the body is not valid JSON: {exc}") from None
    except RecursionError:
        raise UsageError("the body is nested too deeply") from None


async def score(request: web.Request) -> web.Response:
    body = _fields(await _body(request), {"prompts", "responses", "references"}, {"prompts", "responses"})
    references = _strings(body, "references", nulls=True) if body.get("references") is not None else None
    scorer = request.app[_SCORER]
    results = await scorer.score(_strings(body, "prompts"), _strings(body, "responses"), references)
    return web.json_response({"rewards": [r.reward for r in results], "masked": [r.masked for r in results],
                              "details": [r.model_dump() for r in results], "reward_id": scorer.reward_id})


async def get_reward(request: web.Request) -> web.Response:
    """OpenRLHF's remote reward: one number per query; a query that does not begin with its prompt
    is masked alone (`factbench_query_mismatch` 1.0), the others are scored."""
    body = _fields(await _body(request), {"query", "prompts", "labels", "metas"}, {"query", "prompts"})
    queries, prompts = _strings(body, "query"), _strings(body, "prompts")
    if len(queries) != len(prompts):
        raise UsageError(f"{len(queries)} queries but {len(prompts)} prompts")
    labels = body.get("labels") or [None] * len(prompts)
    if len(labels) != len(prompts):
        raise UsageError("'labels' must be a list as long as 'prompts'")
    answers: list[str | None] = []
    for i, (query, prompt) in enumerate(zip(queries, prompts)):
        try:
            answers.append(answer_from_query(query, prompt))
        except QueryMismatch as exc:
            answers.append(None)
            print(f"factbench reward: /get_reward item {i} masked: {exc}", file=sys.stderr, flush=True)
    present = {i: a for i, a in enumerate(answers) if a is not None}
    scored = list(present)
    scorer = request.app[_SCORER]
    references = usable_references(scorer.spec, [labels[i] for i in scored])  # only when relevance counts
    results = dict(zip(scored, await scorer.score(
        [question_from_prompt(prompts[i]) for i in scored], list(present.values()), references))) if scored else {}
    masked_reward = request.app[_MASKED]
    rows = [results.get(i) for i in range(len(prompts))]
    rewards = [masked_reward if r is None or r.masked else r.reward for r in rows]
    # OpenRLHF turns every extra_logs value into a tensor: numbers only (the reasons go to stderr).
    return web.json_response({"rewards": rewards, "scores": rewards, "extra_logs": {
        "factbench_masked": [float(r is None or r.masked) for r in rows],
        "factbench_query_mismatch": [float(r is None) for r in rows],
        "factbench_judge_error": [float(r is not None and r.masked) for r in rows],
        "factbench_supported": [float(r.supported) if r else 0.0 for r in rows],
        "factbench_claims": [float(r.n_claims) if r else 0.0 for r in rows]}})


async def health(request: web.Request) -> web.Response:
    scorer = request.app[_SCORER]
    degraded = scorer.degraded()
    return web.json_response({"status": "degraded" if degraded else "ok", "degraded": degraded,
                              "reward_id": scorer.reward_id, "reward": scorer.identity, **scorer.load()})


def _presented_key(request: web.Request) -> bytes:
    """The key a request carries: a bearer token, or the password of HTTP basic auth."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer":
        return value.strip().encode()
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(value.strip(), validate=True).partition(b":")[2]
        except (binascii.Error, ValueError):
            return b""
    return b""


@web.middleware
async def _errors(request: web.Request, handler) -> web.StreamResponse:
    key = request.app[_KEY]
    if key and not hmac.compare_digest(_presented_key(request), key):
        return web.json_response({"error": "missing or wrong API key: send 'Authorization: Bearer KEY'"},
                                 status=401, headers={"WWW-Authenticate": 'Bearer realm="factbench"'})
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


def build_app(scorer: Scorer, masked_reward: float = 0.0, api_key: str | None = None) -> web.Application:
    app = web.Application(middlewares=[_errors], client_max_size=MAX_BODY_BYTES)
    app[_SCORER] = scorer
    app[_MASKED] = masked_reward
    app[_KEY] = (api_key or "").encode()
    app.router.add_post("/score", score)
    app.router.add_post("/get_reward", get_reward)
    app.router.add_get("/health", health)
    return app


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def _serve(scorer: Scorer, host: str, port: int, masked_reward: float, api_key: str | None) -> None:
    runner = web.AppRunner(build_app(scorer, masked_reward, api_key), access_log=None, shutdown_timeout=60.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    try:
        await site.start()
    except OSError as exc:  # a busy port, an address this machine does not have
        await runner.cleanup()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc} (choose another --port or "
                         "--host)") from exc
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = site._server
    bound = server.sockets[0].getsockname()[1] if isinstance(server, asyncio.Server) and server.sockets else port
    print(f"factbench reward service on http://{host}:{bound} (reward {scorer.reward_id}); "
          f"POST /score, POST /get_reward, GET /health; {'API key required' if api_key else 'no API key'}",
          file=sys.stderr, flush=True)
    try:
        await stop.wait()
        print("factbench reward: stopping (finishing requests in flight)", file=sys.stderr, flush=True)
    finally:
        await runner.cleanup()


def serve(scorer: Scorer, host: str = "127.0.0.1", port: int = 8100, masked_reward: float = 0.0,
          api_key: str | None = None) -> None:
    """Serve until SIGTERM or SIGINT; then finish the requests in flight and close the scorer."""
    try:
        asyncio.run(_serve(scorer, host, port, masked_reward, api_key))
    finally:
        scorer.close()
