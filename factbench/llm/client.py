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
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from factbench.llm.cache import CallCache, cache_key
from factbench.llm.cost import charge, price_source
from factbench.llm.direct import DirectTransport, is_direct
from factbench.llm.failures import classify_error, retry_after_seconds
from factbench.llm.litellm_lib import litellm
from factbench.llm.pool import FAILED, NEUTRAL, OK, UNREACHABLE, EndpointPool
from factbench.llm.redact import redact, register_key_variable, split_credentials, strip_userinfo
from factbench.llm.schema import with_item_count
from factbench.llm.timeouts import AdaptiveTimeout, prompt_tokens
from factbench.retry import backoff_delay

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch a price list at import
os.environ.setdefault("LITELLM_LOG", "ERROR")

TRANSIENT = {"rate_limit", "server_error", "timeout", "connection", "empty_response"}


class RoleDefaults(BaseModel):
    """Transport and decoding defaults per role, each written once: the CLI, the Python API and a
    RoleSpec built without them read them from here (a bare RoleSpec gets the judges' values)."""

    model_config = ConfigDict(frozen=True)

    model_concurrency: int = 16
    judge_concurrency: int = 32
    reference_concurrency: int = 16
    model_timeout_s: float = 300.0
    judge_timeout_s: float = 180.0
    max_retries: int = 6
    model_temperature: float = 0.0
    model_max_tokens: int = 2048
    judge_max_tokens: int = 2048
    reference_max_tokens: int = 2048


ROLE_DEFAULTS = RoleDefaults()


class RoleSpec(BaseModel):
    """What one role calls: frozen, serialisable, and free of secrets (only the key's variable name)."""

    model_config = ConfigDict(frozen=True)

    role: str
    model: str = Field(description="provider/model, as litellm spells it (openai/NAME, anthropic/NAME, hosted_vllm/NAME)")
    base_urls: tuple[str, ...] = ()
    api_key_env: str | None = None
    max_concurrency: int = ROLE_DEFAULTS.judge_concurrency
    timeout_s: float = ROLE_DEFAULTS.judge_timeout_s
    max_retries: int = ROLE_DEFAULTS.max_retries
    structured_output: bool = True
    # Tell the server each call's list length (minItems/maxItems; llm/schema.py): only where it takes them.
    schema_item_counts: bool = False
    params: dict[str, Any] = Field(default_factory=dict)
    revision: str | None = None  # a fingerprint the user pins (checkpoint hash, date): identity
    served_model: str | None = None  # the model id/root the server reports on /v1/models: identity
    price_per_1k: tuple[float, float] | None = None  # user price, $ per 1k input and output tokens

    def model_post_init(self, context: Any) -> None:
        """From the moment a role names its secrets, they are redacted everywhere (llm/redact.py)."""
        if self.api_key_env:
            register_key_variable(self.api_key_env)
        for url in self.base_urls:
            split_credentials(url)

    @property
    def public_urls(self) -> list[str]:
        """The endpoints as they may be written or printed: without credentials (user:KEY@)."""
        return sorted(strip_userinfo(u) for u in self.base_urls)

    def identity(self) -> dict[str, Any]:
        """What changes this role's outputs: keys the call cache and the run identity. Endpoints,
        replicas, concurrency, timeouts and prices are provenance (`public`), never identity."""
        out: dict[str, Any] = {"model": self.model, "params": self.params}
        if self.revision:
            out["revision"] = self.revision
        if self.served_model:
            out["served_model"] = self.served_model
        if self.schema_item_counts:  # constrains what the judge can answer: identity, not provenance
            out["schema_item_counts"] = True
        return out

    def public(self) -> dict[str, Any]:
        """For run.json: identity plus provenance (endpoints, transport, price); never the key itself."""
        return {**self.identity(), "endpoints": self.public_urls, "api_key_env": self.api_key_env,
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


class LLMClient:
    """Calls one role's model. Every successful call is cached; failures raise LLMError."""

    def __init__(self, spec: RoleSpec, cache: CallCache | None, *, backoff_base_s: float = 0.5,
                 backoff_cap_s: float = 30.0, recover: bool = False):
        self.spec = spec
        self.recover = recover  # long-lived callers: probe a down endpoint instead of stopping (llm/pool.py)
        self.cache = cache
        self.stats = RoleStats()
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self._pool: EndpointPool | None = None
        self.timeouts = AdaptiveTimeout(spec.timeout_s, spec.params.get("max_tokens"))
        # Credentials written into a base URL travel as a header, never inside the URL (llm/redact.py).
        self._transport = {url: split_credentials(url) for url in spec.base_urls}
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
            register_key_variable(env)
            return value
        # An OpenAI-compatible server without auth still needs a non-empty key in the client.
        return "EMPTY" if self.spec.base_urls else None

    @property
    def pool(self) -> EndpointPool:
        if self._pool is None:  # created inside the running event loop
            self._pool = EndpointPool(self.spec.base_urls, self.spec.max_concurrency, self.spec.role,
                                      recover=self.recover)
        return self._pool

    def degraded(self) -> dict[str, Any] | None:
        """The endpoint pool's outage report (None: every endpoint up, or no call made yet)."""
        return self._pool.degraded() if self._pool is not None else None

    def key_for(self, messages: list[dict[str, str]], template: str, schema: dict[str, Any] | None) -> str:
        return cache_key("llm", {**self.spec.identity(), "messages": messages, "template": template,
                                 "schema": schema})

    async def complete(self, messages: list[dict[str, str]], *, template: str,
                       schema: dict[str, Any] | None = None, schema_name: str = "output",
                       accept: Callable[[Completion], bool] | None = None, items: int | None = None) -> Completion:
        """One chat completion. `template` is the prompt-template version (part of the cache key).
        Only outputs `accept` passes (a judge answer that parsed) are cached or served from it.
        `items`: how many entries the schema's list must have in this call, sent where the role
        asks for it (`schema_item_counts`); the cache keys on the schema actually sent."""
        if schema is not None and items is not None and self.spec.schema_item_counts:
            schema = with_item_count(schema, items)
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
            total = self.stats.cost_usd
            self.stats.cost_usd = None if cost is None or total is None else total + cost

    async def _call_with_retries(self, messages, schema, schema_name) -> Completion:
        last_kind, last_detail = "other", ""
        timeouts = 0  # timed-out attempts of this call so far: each one doubles the next limit
        for attempt in range(self.spec.max_retries + 1):
            endpoint = await self.pool.acquire()
            outcome, wait = NEUTRAL, None
            try:
                completion = await self._attempt(endpoint.url, messages, schema, schema_name, timeouts)
                outcome = OK
                self.stats.calls += 1
                self.stats.prompt_tokens += completion.prompt_tokens
                self.stats.completion_tokens += completion.completion_tokens
                return completion
            except LLMError as exc:  # raised by _call_once for an empty answer, or by _attempt on a timeout
                last_kind, last_detail = exc.kind, exc.detail
                outcome = UNREACHABLE if exc.kind == "timeout" else FAILED
            except Exception as exc:  # the client libraries raise many types; classify them
                last_kind, last_detail = classify_error(exc), redact(str(exc))[:300]
                if schema is not None and self._formats[0] and "response_format" in last_detail:
                    self._formats.pop(0)  # this backend does not take that form of structured output
                    self.stats.errors["schema_unsupported"] += 1
                    continue
                outcome = UNREACHABLE if last_kind in ("connection", "timeout") else FAILED
                wait = retry_after_seconds(exc)
            finally:  # a cancelled attempt leaves the endpoint's record as it was (NEUTRAL)
                self.pool.release(endpoint, outcome, last_detail)
            timeouts += last_kind == "timeout"
            self.stats.errors[last_kind] += 1
            self.pool.check()  # the role's endpoints are all down: stop the run, not this sample
            if last_kind not in TRANSIENT or attempt == self.spec.max_retries:
                break
            self.stats.retries += 1
            await asyncio.sleep(backoff_delay(attempt, self.backoff_base_s, self.backoff_cap_s, wait))
        raise LLMError(last_kind, f"role {self.spec.role} ({self.spec.model}): {last_detail}")

    async def _attempt(self, url, messages, schema, schema_name, timeouts_before: int) -> Completion:
        """One request, abandoned when it runs past the role's current time limit (llm/timeouts.py)."""
        started = time.monotonic()
        size = prompt_tokens(messages)
        request = asyncio.ensure_future(self._call_once(url, messages, schema, schema_name))
        try:
            while True:
                limit = self.timeouts.limit(timeouts_before, size)
                remaining = started + limit - time.monotonic()
                # Never less than a moment: after the event loop was held up, an answer that arrived
                # meanwhile is read before the request is declared timed out.
                done, _ = await asyncio.wait({request}, timeout=max(0.05, min(remaining, 1.0)))
                if done:
                    completion = request.result()
                    self.timeouts.observe(time.monotonic() - started)
                    return completion
                if time.monotonic() >= started + limit:
                    raise LLMError("timeout", f"no answer within {limit:.1f}s from {strip_userinfo(url or 'default')}")
        finally:
            if request.done():
                _consume(request)
            else:
                request.cancel()
                request.add_done_callback(_consume)

    async def _call_once(self, url, messages, schema, schema_name) -> Completion:
        kwargs: dict[str, Any] = dict(self.spec.params)
        if schema is not None and self._formats[0] == "json_schema":
            kwargs["response_format"] = {"type": "json_schema",
                                         "json_schema": {"name": schema_name, "schema": schema, "strict": True}}
        elif schema is not None and self._formats[0] == "json_object":
            kwargs["response_format"] = {"type": "json_object", "schema": schema}
        api_base, auth = self._transport.get(url, (url, {})) if url else (None, {})
        if auth:
            kwargs["extra_headers"] = {**kwargs.get("extra_headers", {}), **auth}
        # OpenAI-compatible endpoints are called over aiohttp (factbench.llm.direct); the rest via litellm.
        acompletion = self._direct.acompletion if is_direct(self.spec.model, api_base) else litellm().acompletion
        response = await acompletion(
            model=self.spec.model, messages=messages, api_base=api_base, api_key=self._api_key,
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
            cached=False, endpoint=strip_userinfo(url) if url else None,
        )


def _consume(task: asyncio.Future) -> None:
    """Retrieve an abandoned request's outcome, so that it is not reported as never retrieved."""
    if not task.cancelled():
        task.exception()
