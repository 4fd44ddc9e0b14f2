"""Pooled aiohttp sessions, one per (event loop, name), closed when their loop shuts down.

aiohttp's client costs several times less CPU per request than httpx (measured against a local
server); at one search request per claim and a few judge requests per answer that was most of
the harness's CPU. A session belongs to the loop that made it, so a new loop (a new
`asyncio.run`) gets new sessions; each is closed by an async generator that the loop
finalises at shutdown (`asyncio.run` calls `shutdown_asyncgens`), so none is left unclosed.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncGenerator, Callable
from typing import Any

_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Any]] = weakref.WeakKeyDictionary()
_open: set[AsyncGenerator[Any, None]] = set()  # strong references until their loop closes them


async def _closing(session: Any, done: Callable[[], None]) -> AsyncGenerator[Any, None]:
    try:
        yield session
    finally:
        await session.close()
        done()


async def session(name: str, limit: int) -> Any:
    """The running loop's aiohttp session called `name`, with at most `limit` connections per host."""
    import aiohttp

    loop = asyncio.get_running_loop()
    per_loop = _sessions.setdefault(loop, {})
    current = per_loop.get(name)
    if current is None or current.closed:
        current = per_loop[name] = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, limit_per_host=max(1, limit)))
        holder = _closing(current, lambda: _open.discard(holder))
        await holder.__anext__()  # now registered with the loop, which closes it at shutdown
        _open.add(holder)
    return current
