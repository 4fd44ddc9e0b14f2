"""Stopping a run: Ctrl-C, SIGTERM and errors that abort the whole run.

The run's event loop is driven here rather than by `asyncio.run`, so that the behaviour is the
same on every supported Python: SIGINT and SIGTERM cancel the run's main task (the workers
stop at their next await, and nothing they raise while being cancelled is recorded as a
sample's error), the loop is given `GRACE_S` to unwind, and `Interrupted` carries the signal
to the command line, which exits 128 + signal number after printing how to resume. A second
signal exits at once. Every record written so far is already in its file (one line each).

A run driven from Python in a worker thread (a notebook, `evaluate_async`) gets no signal: its
caller stops it with `Stop.cancel()`, from any thread, with the same effect as one Ctrl-C.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")
GRACE_S = 1.0  # how long cancelled workers get to unwind before the loop is abandoned
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """The run was stopped by a signal (a BaseException, like KeyboardInterrupt: never a sample error)."""

    def __init__(self, signum: int):
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class Stop:
    """Why a run is stopping, if it is: a signal, or an error that aborts the whole run."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.error: BaseException | None = None
        self._begin: Callable[[int], None] | None = None  # set while run_interruptible drives the run
        self._guard = threading.Lock()

    @property
    def requested(self) -> bool:
        """True once the run is being stopped: errors raised from then on are not a sample's."""
        return self.signum is not None or self.error is not None

    def cancel(self, signum: int = signal.SIGINT) -> None:
        """Stop the run as one Ctrl-C would, from any thread; before the run starts, it never starts."""
        with self._guard:
            if self.signum is not None:
                return
            if self._begin is None:
                self.signum = signum
            else:
                self._begin(signum)

    def _attach(self, begin: Callable[[int], None] | None) -> None:
        with self._guard:
            self._begin = begin


def raise_on_sigterm() -> Any:
    """Outside the event loop, make SIGTERM raise Interrupted as SIGINT raises KeyboardInterrupt.

    Returns the previous handler, for `restore_sigterm`."""
    def handler(signum: int, frame: Any) -> None:
        raise Interrupted(signum)

    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave the default
        return None


def restore_sigterm(previous: Any) -> None:
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)


def run_interruptible(main: Coroutine[Any, Any, T], stop: Stop) -> T:
    """Run `main` on a fresh event loop until it finishes, a signal arrives, or it aborts."""
    if stop.signum is not None:  # cancelled before it started
        main.close()
        raise Interrupted(stop.signum)
    loop = asyncio.new_event_loop()
    task = loop.create_task(main)
    timers: list[asyncio.TimerHandle] = []

    def begin_stop(signum: int) -> None:
        if stop.signum is not None:
            return
        stop.signum = signum
        task.cancel()
        timers.append(loop.call_later(GRACE_S, loop.stop))  # what still runs after the grace period is abandoned

    def on_signal(signum: int) -> None:
        if stop.signum is not None:  # a second Ctrl-C: the user does not want to wait
            print("factbench: interrupted again; exiting now", file=sys.stderr, flush=True)
            os._exit(128 + signum)
        begin_stop(signum)

    def begin_stop_threadsafe(signum: int) -> None:
        loop.call_soon_threadsafe(begin_stop, signum)

    stop._attach(begin_stop_threadsafe)

    previous = {sig: signal.getsignal(sig) for sig in SIGNALS}
    installed = []
    for sig in SIGNALS:
        try:
            loop.add_signal_handler(sig, on_signal, sig)
            installed.append(sig)
        except (ValueError, RuntimeError, NotImplementedError):  # not the main thread
            pass
    try:
        try:
            result = loop.run_until_complete(task)
        except (asyncio.CancelledError, RuntimeError):
            if stop.signum is None:
                raise
        if stop.signum is not None:
            raise Interrupted(stop.signum)
        return result
    finally:
        stop._attach(None)
        _cancel_remaining(loop)
        for timer in timers:
            timer.cancel()
        for sig in installed:
            loop.remove_signal_handler(sig)
            signal.signal(sig, previous[sig])
        loop.close()


def _cancel_remaining(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is left on the loop (abandoned requests, library background tasks), briefly."""
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in pending:
        t.cancel()
    if pending and not loop.is_closed():
        try:
            loop.run_until_complete(asyncio.wait(pending, timeout=GRACE_S / 2))
        except RuntimeError:  # stopped again by a signal
            pass
    for t in pending:
        if t.done() and not t.cancelled():
            t.exception()  # retrieved: not reported as never retrieved
    try:
        loop.run_until_complete(asyncio.wait_for(loop.shutdown_asyncgens(), GRACE_S / 2))
    except (asyncio.TimeoutError, RuntimeError):
        pass


async def gather_or_stop(stop: Stop, jobs: list[Awaitable[None]]) -> None:
    """Run jobs concurrently; the first error (a RunAborted) or a cancellation cancels all the others."""
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        await asyncio.gather(*tasks)
    except BaseException as exc:
        stop.error = stop.error or exc  # before the others are cancelled: see Stop.requested
        raise
    finally:
        if any(not t.done() for t in tasks):
            for t in tasks:
                t.cancel()
            await asyncio.wait(tasks, timeout=GRACE_S)
        for t in tasks:
            if t.done() and not t.cancelled():
                t.exception()
