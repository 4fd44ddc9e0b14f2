"""`ServiceScorer`: a Scorer's `score`/`score_sync` answered by `factbench reward serve`.

Every trainer process that builds its own Scorer opens its own judge pool: 8 reward workers with
a capacity of 32 each keep 256 requests in flight at one judge endpoint. Pointing them all at one
reward service makes it their single judge client, so the budget (`--judge-concurrency`,
`--max-in-flight`) is set once for the host. The results are the service's ScoreResults.
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from collections.abc import Sequence
from typing import Any

import httpx

from factbench.reward.definition import ScoreResult, TrainingReward

API_KEY_ENV = "FACTBENCH_REWARD_API_KEY"


class ServiceError(RuntimeError):
    """The reward service did not answer a batch (unreachable, 4xx/5xx)."""


class ServiceScorer:
    """Scores through a reward service at `url` (`http://host:8100`). The API key, when the service
    wants one, is read from the environment variable `api_key_env` and sent as a bearer token."""

    def __init__(self, url: str, *, api_key_env: str = API_KEY_ENV, timeout_s: float = 900.0):
        self._setup(url, api_key_env, timeout_s)

    def _setup(self, url: str, api_key_env: str, timeout_s: float) -> None:
        self.url = url.rstrip("/")
        self.api_key_env = api_key_env
        self.timeout_s = timeout_s
        self._spec: TrainingReward | None = None
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = \
            weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def _headers(self) -> dict[str, str]:
        key = os.environ.get(self.api_key_env)
        return {"Authorization": f"Bearer {key}"} if key else {}

    @property
    def spec(self) -> TrainingReward:
        """The service's reward definition (from GET /health, read once)."""
        if self._spec is None:
            identity = self._check(httpx.get(f"{self.url}/health", headers=self._headers(), timeout=30))["reward"]
            self._spec = TrainingReward(**{k: identity[k] for k in TrainingReward.model_fields if k in identity})
        return self._spec

    def _check(self, reply: httpx.Response) -> dict[str, Any]:
        if reply.status_code != 200:
            try:
                reason = reply.json().get("error", reply.text)
            except ValueError:
                reason = reply.text
            raise ServiceError(f"reward service {self.url}: HTTP {reply.status_code}: {str(reason)[:300]}")
        return reply.json()

    @staticmethod
    def _body(prompts: Sequence[str], responses: Sequence[str],
              references: Sequence[str | None] | None) -> dict[str, Any]:
        body: dict[str, Any] = {"prompts": list(prompts), "responses": list(responses)}
        if references is not None:
            body["references"] = list(references)
        return body

    async def score(self, prompts: Sequence[str], responses: Sequence[str],
                    references: Sequence[str | None] | None = None) -> list[ScoreResult]:
        loop = asyncio.get_running_loop()
        with self._lock:  # one connection pool per event loop (an httpx client is bound to its loop)
            client = self._clients.get(loop)
            if client is None:
                client = self._clients[loop] = httpx.AsyncClient(timeout=self.timeout_s)
        try:
            reply = await client.post(f"{self.url}/score", json=self._body(prompts, responses, references),
                                      headers=self._headers())
        except httpx.HTTPError as exc:
            raise ServiceError(f"reward service {self.url}: {type(exc).__name__}: {exc}") from None
        return [ScoreResult(**d) for d in self._check(reply)["details"]]

    def score_sync(self, prompts: Sequence[str], responses: Sequence[str],
                   references: Sequence[str | None] | None = None) -> list[ScoreResult]:
        try:
            reply = httpx.post(f"{self.url}/score", json=self._body(prompts, responses, references),
                               headers=self._headers(), timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            raise ServiceError(f"reward service {self.url}: {type(exc).__name__}: {exc}") from None
        return [ScoreResult(**d) for d in self._check(reply)["details"]]

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url, "api_key_env": self.api_key_env, "timeout_s": self.timeout_s}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._setup(state["url"], state["api_key_env"], state["timeout_s"])
