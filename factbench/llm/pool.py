"""Routing over a role's replicas, with a cap per endpoint, failover and a circuit breaker.

Requests go to the healthy endpoint with the fewest outstanding requests. An endpoint that
errors is cooled down while others take over. An endpoint that cannot be reached (connection
refused or reset, or a timeout) `BREAKER_FAILURES` times in a row, over at least
`BREAKER_SECONDS`, is *down*; when every endpoint of a role is down the run stops
(`EndpointDown`) instead of retrying every remaining sample against a dead server. A down
replica still gets a probe after its cool-down, so one that comes back is used again.

A long-lived scorer (`recover=True`: the reward service, a trainer's in-process Scorer) must not
stop for good: while every endpoint is down its requests fail at once with `EndpointDown` (the
answer is masked), except one probe per down endpoint each time its cool-down ends (half-open).
The cool-down doubles after each failed probe, from `PROBE_FIRST_S` up to `DOWN_COOL_S`; the
first probe that gets an answer brings the endpoint back for everyone.

Everything here runs on the event loop's thread: routing decisions are plain code between
awaits, so no lock is needed, and waiting is a bare future, which cancellation cannot leave
in a half-acquired state.
"""

from __future__ import annotations

import asyncio
import time

from factbench.errors import RunAborted
from factbench.llm.redact import strip_userinfo

BREAKER_FAILURES = 5
BREAKER_SECONDS = 5.0
DOWN_COOL_S = 30.0
PROBE_FIRST_S = 1.0
OK, UNREACHABLE, FAILED, NEUTRAL = "ok", "unreachable", "failed", "neutral"  # outcomes of one request


class EndpointDown(RunAborted):
    """Every endpoint of a role is unreachable; exit 1, resumable."""

    exit_code = 1


class _Endpoint:
    def __init__(self, url: str | None):
        self.url = url
        self.in_flight = 0
        self.failures = 0
        self.cool_until = 0.0
        self.streak = 0  # consecutive unreachable outcomes
        self.streak_started = 0.0
        self.last_error = ""
        self.down = False
        self.downs = 0  # times it went down (or failed a probe) since it last answered
        self.probing = False  # a half-open probe is in flight

    @property
    def name(self) -> str:
        return strip_userinfo(self.url) if self.url else "the provider's default endpoint"


class EndpointPool:
    """Least-outstanding-requests routing over replicas, with a cap per endpoint and failover."""

    def __init__(self, urls: tuple[str, ...], cap: int, role: str = "", *,
                 breaker_failures: int = BREAKER_FAILURES, breaker_seconds: float = BREAKER_SECONDS,
                 recover: bool = False):
        self.endpoints = [_Endpoint(u) for u in urls] or [_Endpoint(None)]
        self.cap = max(1, cap)
        self.role = role
        self.recover = recover
        self.breaker_failures = breaker_failures
        self.breaker_seconds = breaker_seconds
        self._waiters: set[asyncio.Future] = set()

    # ------------------------------------------------------------------ breaker
    def check(self) -> None:
        """Raise EndpointDown when no endpoint of this role can be reached (and, when recovering,
        no probe is due)."""
        if all(e.down for e in self.endpoints) and self._due_probe() is None:
            worst = max(self.endpoints, key=lambda e: e.streak)
            names = ", ".join(e.name for e in self.endpoints)
            raise EndpointDown(
                f"role {self.role or '?'}: {'endpoint' if len(self.endpoints) == 1 else 'every endpoint'} "
                f"{names} unreachable ({worst.streak} connection failures/timeouts in a row over "
                f"{time.monotonic() - worst.streak_started:.1f}s; last: {worst.last_error or 'no detail'})")

    def degraded(self) -> dict[str, object] | None:
        """None when every endpoint is up; else which are down or cooling down, and whether all are down."""
        now = time.monotonic()
        down = [e.name for e in self.endpoints if e.down]
        cooling = [e.name for e in self.endpoints if not e.down and e.cool_until > now]
        if not down and not cooling:
            return None
        return {"down": down, "cooling": cooling, "all_down": len(down) == len(self.endpoints)}

    def _due_probe(self) -> _Endpoint | None:
        if not self.recover:
            return None
        now = time.monotonic()
        due = [e for e in self.endpoints if e.down and not e.probing and e.cool_until <= now]
        return min(due, key=lambda e: e.cool_until) if due else None

    # ------------------------------------------------------------------ routing
    def _pick(self) -> _Endpoint | None:
        now = time.monotonic()
        # When recovering, a down endpoint gets only its probes (acquire), never ordinary traffic.
        free = [e for e in self.endpoints if e.in_flight < self.cap and not (self.recover and e.down)]
        healthy = [e for e in free if e.cool_until <= now]
        if not healthy and free and all(e.cool_until > now for e in self.endpoints):
            # Every endpoint is cooling down: use the one that recovers first rather than stall.
            healthy = [min(free, key=lambda e: e.cool_until)]
        return min(healthy, key=lambda e: (e.in_flight, e.failures)) if healthy else None

    async def acquire(self) -> _Endpoint:
        while True:
            probe = self._due_probe()
            if probe is not None:  # half-open: this request finds out whether the endpoint is back
                probe.probing = True
                probe.in_flight += 1
                return probe
            self.check()
            chosen = self._pick()
            if chosen is not None:
                chosen.in_flight += 1
                return chosen
            await self._wait(0.5)  # woken by a release, or to re-check cool-downs

    async def _wait(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        self._waiters.add(waiter)
        def wake() -> None:
            if not waiter.done():
                waiter.set_result(None)

        timer = loop.call_later(seconds, wake)
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiters.discard(waiter)

    def release(self, endpoint: _Endpoint, outcome: str, error: str = "") -> None:
        """Return an endpoint after one request and record how it went."""
        endpoint.in_flight -= 1
        endpoint.probing = False
        now = time.monotonic()
        if outcome == OK:
            endpoint.failures = endpoint.streak = endpoint.downs = 0
            endpoint.cool_until = 0.0
            endpoint.down = False
        elif outcome in (UNREACHABLE, FAILED):
            endpoint.failures += 1
            if len(self.endpoints) > 1:
                endpoint.cool_until = now + min(DOWN_COOL_S, 0.5 * 2 ** min(endpoint.failures, 6))
            if outcome == UNREACHABLE:
                if endpoint.streak == 0:
                    endpoint.streak_started = now
                endpoint.streak += 1
                endpoint.last_error = error[:200]
                if (endpoint.streak >= self.breaker_failures
                        and now - endpoint.streak_started >= self.breaker_seconds):
                    endpoint.down = True  # (again, after a failed probe): probed next after the cool-down
                    endpoint.cool_until = now + min(DOWN_COOL_S, PROBE_FIRST_S * 2 ** endpoint.downs)
                    endpoint.downs += 1
            else:
                endpoint.streak = 0  # it answered (with an error): it is alive
                endpoint.down = False
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
