"""OpenAI-compatible chat completions over aiohttp, for models served at a base URL.

`openai/NAME` and `hosted_vllm/NAME` with a base URL (vLLM, SGLang, llama.cpp, TGI, hosted
OpenAI-compatible APIs) all speak one protocol: POST {base}/chat/completions. Calling it
directly costs ~0.2 s to import and ~0.1 ms of CPU per call; litellm costs ~4 s to import
and several milliseconds of CPU per call (its callbacks, cost lookups and logging threads),
which at hundreds of calls a second was most of the harness's CPU. Every other provider
goes through litellm. Responses have the shape the caller reads from litellm
(`choices[0].message.content`, `.finish_reason`, `usage`), and errors carry what
`classify_error` and `retry_after_seconds` read (`status_code`, `response.headers`, names).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

DIRECT_PREFIXES = ("openai/", "hosted_vllm/")
_NOT_SENT = {"num_retries", "max_retries"}  # retries are the caller's


def is_direct(model: str, url: str | None) -> bool:
    """Whether this model and endpoint are called directly rather than through litellm."""
    return bool(url) and model.startswith(DIRECT_PREFIXES)


class EndpointStatusError(Exception):
    """A non-2xx answer. `status_code` and `response` as the client libraries name them."""

    def __init__(self, status_code: int, message: str, response: Any):
        super().__init__(f"status {status_code}: {message}")
        self.status_code = status_code
        self.response = response


class EndpointConnectionError(Exception):
    pass


class EndpointTimeout(Exception):
    pass


@dataclass
class Message:
    content: str | None
    reasoning_content: str | None = None


@dataclass
class Choice:
    message: Message
    finish_reason: str | None


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class ChatResponse:
    choices: list[Choice]
    usage: Usage | None


class DirectTransport:
    """Calls over the running loop's pooled session (factbench.llm.sessions)."""

    def __init__(self, max_connections: int):
        self.max_connections = max(1, max_connections)

    async def acompletion(self, *, model: str, messages: list[dict[str, Any]], api_base: str,
                          api_key: str | None, timeout: float, **params: Any) -> ChatResponse:
        import aiohttp

        from factbench.llm.sessions import session

        extra_headers = params.pop("extra_headers", None) or {}  # headers, never part of the body
        body = {"model": model.split("/", 1)[1], "messages": messages,
                **{k: v for k, v in params.items() if k not in _NOT_SENT and v is not None}}
        headers = {"Content-Type": "application/json", **extra_headers}
        if api_key and "Authorization" not in headers:  # credentials from the URL (basic auth) take precedence
            headers["Authorization"] = f"Bearer {api_key}"
        http = await session("judge", self.max_connections)
        try:
            async with http.post(api_base.rstrip("/") + "/chat/completions", data=json.dumps(body), headers=headers,
                                 timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
                text = await resp.text()
        except asyncio.TimeoutError as exc:
            raise EndpointTimeout(f"request timed out after {timeout:g}s") from exc
        except aiohttp.ClientError as exc:
            raise EndpointConnectionError(f"connection error: {type(exc).__name__}: {exc}") from exc
        if resp.status >= 400:
            raise EndpointStatusError(resp.status, _error_message(text), resp)
        try:
            data = json.loads(text)
            choice = data["choices"][0]
            message = choice.get("message") or {}
            usage = data.get("usage") or {}
            return ChatResponse(
                choices=[Choice(Message(message.get("content"), message.get("reasoning_content")),
                                choice.get("finish_reason"))],
                usage=Usage(int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)))
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise EndpointStatusError(502, f"not a chat completion: {text[:200]}", resp) from exc


def _error_message(text: str) -> str:
    try:
        err = json.loads(text).get("error")
        return str(err.get("message") if isinstance(err, dict) else err or text)[:500]
    except (ValueError, AttributeError):
        return text[:500]
