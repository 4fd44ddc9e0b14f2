"""Model access: one litellm client per role, with concurrency, retries, routing and the call cache.

Roles: `model` (the model under test), and the judge roles `extractor`, `verifier`,
`relevance`. A role may name several base URLs (replicas of one model): requests go to
the healthy endpoint with the fewest outstanding requests, each endpoint capped at the
role's `max_concurrency`, and an endpoint that errors is cooled down while the others
take over.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from factbench.llm.cache import CallCache, cache_key
from factbench.llm.cost import charge
from factbench.llm.direct import DirectTransport, is_direct
from factbench.retry import backoff_delay

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch a price list at import
os.environ.setdefault("LITELLM_LOG", "ERROR")

TRANSIENT = {"rate_limit", "server_error", "timeout", "connection", "empty_response"}
_SECRET_NAME = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD)", re.IGNORECASE)


class RoleSpec(BaseModel):
    """What one role calls: frozen, serialisable, and free of secrets (only the key's variable name)."""

    model_config = ConfigDict(frozen=True)

    role: str
    model: str = Field(description="provider/model, as litellm spells it (openai/NAME, anthropic/NAME, hosted_vllm/NAME)")
    base_urls: tuple[str, ...] = ()
    api_key_env: str | None = None
    max_concurrency: int = 16
    timeout_s: float = 120.0
    max_retries: int = 6
    structured_output: bool = True
    params: dict[str, Any] = Field(default_factory=dict)
    revision: str | None = None  # a fingerprint the user pins (checkpoint hash, date): identity
    served_model: str | None = None  # the model id/root the server reports on /v1/models: identity
    price_per_1k: tuple[float, float] | None = None  # user price, $ per 1k input and output tokens

    def identity(self) -> dict[str, Any]:
        """What changes this role's outputs: keys the call cache and the run identity. Endpoints,
        replicas, concurrency, timeouts and prices are provenance (`public`), never identity."""
        out: dict[str, Any] = {"model": self.model, "params": self.params}
        if self.revision:
            out["revision"] = self.revision
        if self.served_model:
            out["served_model"] = self.served_model
        return out

    def public(self) -> dict[str, Any]:
        """For run.json: identity plus provenance (endpoints, transport, price); never the key itself."""
        from factbench.llm.cost import price_source

        return {**self.identity(), "endpoints": sorted(self.base_urls), "api_key_env": self.api_key_env,
                "max_concurrency": self.max_concurrency, "timeout_s": self.timeout_s,
                "max_retries": self.max_retries, "structured_output": self.structured_output,
                "price": price_source(self.model, bool(self.base_urls), self.price_per_1k)}


@dataclass
class Completion:
    text: str
    reasoning: str | None
    finish_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    cached: bool
    endpoint: str | None

    def to_cache(self) -> dict[str, Any]:
        return {"text": self.text, "reasoning": self.reasoning, "finish_reason": self.finish_reason,
                "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}


class LLMError(Exception):
    """A call that failed for good (after bounded retries). `kind` is counted in the summary."""

    def __init__(self, kind: str, detail: str):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


@dataclass
class RoleStats:
    calls: int = 0
    cache_hits: int = 0
    retries: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    cost_usd: float | None = 0.0  # None once a fresh call had no price
    rejected: int = 0  # outputs the caller could not parse: never cached
    cache_rejected: int = 0  # cached outputs that no longer parse: called again

    def to_dict(self) -> dict[str, Any]:
        return {"calls": self.calls, "cache_hits": self.cache_hits, "retries": self.retries,
                "prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "cached_prompt_tokens": self.cached_prompt_tokens, "errors": dict(self.errors),
                "cost_usd": None if self.cost_usd is None else round(self.cost_usd, 8),
                "rejected": self.rejected, "cache_rejected": self.cache_rejected}


_KEY_VARIABLES: set[str] = set()  # variables named by --ROLE-api-key-env, whatever their names


def redact(text: str) -> str:
    """Remove the value of every API-key variable in use, and of every secret-looking variable."""
    for name, value in os.environ.items():
        if value and len(value) >= 8 and (name in _KEY_VARIABLES or _SECRET_NAME.search(name)) and value in text:
            text = text.replace(value, f"<{name}>")
    return text


def _litellm():
    import litellm  # imported lazily: ~3 s, and only runs that call models need it

    litellm.suppress_debug_info = True
    litellm.telemetry = False
    litellm.drop_params = True  # a backend that does not take a parameter gets it dropped, not an error
    return litellm


def classify_error(exc: BaseException) -> str:
    status = getattr(exc, "status_code", None)
    name = type(exc).__name__
    if isinstance(exc, asyncio.TimeoutError) or "Timeout" in name:
        return "timeout"
    if "connection error" in str(exc).lower() or "Connection" in type(exc.__context__).__name__:
        return "connection"  # litellm reports a refused/reset connection as a 500
    if status == 429 or "RateLimit" in name:
        return "rate_limit"
    if status in (401, 403) or "Authentication" in name or "PermissionDenied" in name:
        return "auth"
    if status == 404 or "NotFound" in name:
        return "not_found"
    if "ContextWindow" in name:
        return "context_window"
    if status == 400 or "BadRequest" in name or "UnprocessableEntity" in name:
        return "bad_request"
    if isinstance(status, int) and status >= 500:
        return "server_error"
    if "Connection" in name or "ServiceUnavailable" in name or "InternalServer" in name or "APIError" in name:
        return "connection" if "Connection" in name else "server_error"
    return "other"


def retry_after_seconds(exc: BaseException) -> float | None:
    value = None
    for headers in (getattr(exc, "litellm_response_headers", None),
                    getattr(getattr(exc, "response", None), "headers", None)):
        if headers and headers.get("retry-after") is not None:
            value = headers.get("retry-after")
            break
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class _Endpoint:
    def __init__(self, url: str | None):
        self.url = url
        self.in_flight = 0
        self.failures = 0
        self.cool_until = 0.0


class EndpointPool:
    """Least-outstanding-requests routing over replicas, with a cap per endpoint and failover."""

    def __init__(self, urls: tuple[str, ...], cap: int):
        self.endpoints = [_Endpoint(u) for u in urls] or [_Endpoint(None)]
        self.cap = max(1, cap)
        self._cond = asyncio.Condition()

    async def acquire(self) -> _Endpoint:
        async with self._cond:
            while True:
                now = time.monotonic()
                free = [e for e in self.endpoints if e.in_flight < self.cap]
                healthy = [e for e in free if e.cool_until <= now]
                # When every endpoint is cooling down, use the one that recovers first rather than stall.
                pick = healthy or ([min(free, key=lambda e: e.cool_until)]
                                   if free and all(e.cool_until > now for e in self.endpoints) else [])
                if pick:
                    chosen = min(pick, key=lambda e: (e.in_flight, e.failures))
                    chosen.in_flight += 1
                    return chosen
                try:
                    await asyncio.wait_for(self._cond.wait(), timeout=0.5)
                except asyncio.TimeoutError:
                    pass

    async def release(self, endpoint: _Endpoint, failed: bool) -> None:
        async with self._cond:
            endpoint.in_flight -= 1
            if failed:
                endpoint.failures += 1
                if len(self.endpoints) > 1:
                    endpoint.cool_until = time.monotonic() + min(30.0, 0.5 * 2 ** min(endpoint.failures, 6))
            else:
                endpoint.failures = 0
                endpoint.cool_until = 0.0
            self._cond.notify_all()


class LLMClient:
    """Calls one role's model. Every successful call is cached; failures raise LLMError."""

    def __init__(self, spec: RoleSpec, cache: CallCache | None, *, backoff_base_s: float = 0.5,
                 backoff_cap_s: float = 30.0):
        self.spec = spec
        self.cache = cache
        self.stats = RoleStats()
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self._pool: EndpointPool | None = None
        # Structured output, best first: OpenAI/vLLM json_schema, then llama.cpp-style json_object
        # with a schema, then none (the tolerant parser still applies). A backend that rejects a
        # form moves the client down one step, once.
        self._formats = ["json_schema", "json_object", None] if spec.structured_output else [None]
        self._api_key = self._resolve_key()
        self._direct = DirectTransport(spec.max_concurrency)

    def _resolve_key(self) -> str | None:
        env = self.spec.api_key_env
        if env:
            value = os.environ.get(env)
            if not value:
                raise LLMError("auth", f"role {self.spec.role}: environment variable {env} is not set")
            _KEY_VARIABLES.add(env)
            return value
        # An OpenAI-compatible server without auth still needs a non-empty key in the client.
        return "EMPTY" if self.spec.base_urls else None

    @property
    def pool(self) -> EndpointPool:
        if self._pool is None:  # created inside the running event loop
            self._pool = EndpointPool(self.spec.base_urls, self.spec.max_concurrency)
        return self._pool

    def key_for(self, messages: list[dict[str, str]], template: str, schema: dict[str, Any] | None) -> str:
        return cache_key("llm", {**self.spec.identity(), "messages": messages, "template": template,
                                 "schema": schema})

    async def complete(self, messages: list[dict[str, str]], *, template: str,
                       schema: dict[str, Any] | None = None, schema_name: str = "output",
                       accept: Callable[[Completion], bool] | None = None) -> Completion:
        """One chat completion. `template` is the prompt-template version (part of the cache key).
        Only outputs `accept` passes (a judge answer that parsed) are cached or served from it."""
        key = self.key_for(messages, template, schema)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                completion = Completion(**hit, cached=True, endpoint=None)
                if accept is None or accept(completion):
                    self.stats.calls += 1
                    self.stats.cache_hits += 1
                    self.stats.cached_prompt_tokens += hit.get("prompt_tokens", 0)
                    self._account(completion)
                    return completion
                self.stats.cache_rejected += 1
        completion = await self._call_with_retries(messages, schema, schema_name)
        self._account(completion)
        if accept is not None and not accept(completion):
            self.stats.rejected += 1
        elif self.cache is not None:
            self.cache.put(key, f"llm:{self.spec.role}", completion.to_cache())
        return completion

    def _account(self, completion: Completion) -> None:
        """Dollars for a fresh call (cache hits cost nothing), also into the per-answer ledger."""
        cost = charge(self.spec, completion.cached, completion.prompt_tokens, completion.completion_tokens)
        if not completion.cached:
            self.stats.cost_usd = None if None in (cost, self.stats.cost_usd) else self.stats.cost_usd + cost

    async def _call_with_retries(self, messages, schema, schema_name) -> Completion:
        last_kind, last_detail = "other", ""
        for attempt in range(self.spec.max_retries + 1):
            endpoint = await self.pool.acquire()
            failed = True
            wait: float | None = None
            try:
                completion = await self._call_once(endpoint.url, messages, schema, schema_name)
                failed = False
                self.stats.calls += 1
                self.stats.prompt_tokens += completion.prompt_tokens
                self.stats.completion_tokens += completion.completion_tokens
                return completion
            except LLMError as exc:  # raised by _call_once for an empty answer
                last_kind, last_detail = exc.kind, exc.detail
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the client libraries raise many types; classify them
                last_kind, last_detail = classify_error(exc), redact(str(exc))[:300]
                if schema is not None and self._formats[0] and "response_format" in last_detail:
                    self._formats.pop(0)  # this backend does not take that form of structured output
                    failed = False
                    self.stats.errors["schema_unsupported"] += 1
                    continue
                wait = retry_after_seconds(exc)
            finally:
                await self.pool.release(endpoint, failed)
            self.stats.errors[last_kind] += 1
            if last_kind not in TRANSIENT or attempt == self.spec.max_retries:
                break
            self.stats.retries += 1
            await asyncio.sleep(backoff_delay(attempt, self.backoff_base_s, self.backoff_cap_s, wait))
        raise LLMError(last_kind, f"role {self.spec.role} ({self.spec.model}): {last_detail}")

    async def _call_once(self, url, messages, schema, schema_name) -> Completion:
        # OpenAI-compatible endpoints are called over aiohttp (factbench.llm.direct); the rest via litellm.
        acompletion = self._direct.acompletion if is_direct(self.spec.model, url) else _litellm().acompletion
        kwargs: dict[str, Any] = dict(self.spec.params)
        if schema is not None and self._formats[0] == "json_schema":
            kwargs["response_format"] = {"type": "json_schema",
                                         "json_schema": {"name": schema_name, "schema": schema, "strict": True}}
        elif schema is not None and self._formats[0] == "json_object":
            kwargs["response_format"] = {"type": "json_object", "schema": schema}
        response = await acompletion(
            model=self.spec.model, messages=messages, api_base=url, api_key=self._api_key,
            timeout=self.spec.timeout_s, num_retries=0, max_retries=0, **kwargs,
        )
        choice = response.choices[0]
        message = choice.message
        text = message.content or ""
        reasoning = getattr(message, "reasoning_content", None)
        if not text.strip():
            raise LLMError("empty_response", f"finish_reason={choice.finish_reason}")
        usage = getattr(response, "usage", None)
        return Completion(
            text=text, reasoning=reasoning, finish_reason=choice.finish_reason,
            prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
            completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
            cached=False, endpoint=url,
        )
