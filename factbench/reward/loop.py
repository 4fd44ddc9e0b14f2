"""A private event loop in a daemon thread: the home of a Scorer's clients and judge pool.

The LLM client, its endpoint pool and litellm's own background worker bind to the loop they
first run in. Running all of a Scorer's work on one loop it owns makes the Scorer usable from
any caller: successive `asyncio.run` calls, other threads, other loops (a notebook's, a web
server's) — and all callers share one judge pool. Restarted in a forked child process.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    def __init__(self, name: str):
        self.name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    @property
    def started(self) -> bool:
        return self._loop is not None and self._pid == os.getpid()

    def ensure(self) -> bool:
        """Start the loop if needed; True when this call started it (a fresh loop needs fresh state)."""
        with self._lock:
            if self.started:
                return False
            self._pid = os.getpid()
            loop = asyncio.new_event_loop()
            ready = threading.Event()

            def run() -> None:
                asyncio.set_event_loop(loop)
                loop.call_soon(ready.set)
                loop.run_forever()

            self._thread = threading.Thread(target=run, name=self.name, daemon=True)
            self._thread.start()
            ready.wait()
            self._loop = loop
            return True

    def in_loop_thread(self) -> bool:
        return self._thread is threading.current_thread()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        loop = self._loop
        if not self.started or loop is None:
            coro.close()
            raise RuntimeError(f"{self.name}: the loop is not running (closed?)")
        return asyncio.run_coroutine_threadsafe(coro, loop)

    def stop(self) -> None:
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or self._pid != os.getpid():
            return

        async def drain() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await asyncio.get_running_loop().shutdown_asyncgens()  # closes the loop's pooled HTTP sessions

        try:
            asyncio.run_coroutine_threadsafe(drain(), loop).result(10)
        except (concurrent.futures.TimeoutError, RuntimeError):
            pass
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None and thread is not threading.current_thread():
            thread.join(10)
        if not loop.is_running():
            loop.close()
