"""Progress per stage (done / errors / cache hits), shown in the form that suits where it is written.

- `live`: redrawn bars, for a terminal;
- `plain`: one line per stage every PLAIN_INTERVAL_S seconds and at the end, with no cursor
  movement and no carriage returns, for pipes, log files, CI and batch-job logs;
- `notebook`: tqdm's notebook widgets (a cell does not understand cursor codes either);
- `none`: nothing.

`auto` (the default) picks notebook inside a Jupyter kernel, live when stderr is a terminal,
plain otherwise.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import Protocol, TextIO

from factbench.llm.client import LLMClient

DISPLAYS = ("auto", "live", "plain", "none")
PLAIN_INTERVAL_S = 30.0


def in_notebook() -> bool:
    """True inside a Jupyter kernel (a ZMQ shell), not in a plain IPython terminal."""
    shell = sys.modules.get("IPython")
    try:
        ip = shell.get_ipython() if shell is not None else None
    except Exception:  # an IPython too old or half-imported: treat as no notebook
        return False
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def resolve_display(display: bool | str, stream: TextIO) -> str:
    """`auto`/True/False/a mode -> the concrete mode: live, plain, notebook or none."""
    if display is True or display == "auto":
        if in_notebook():
            return "notebook"
        isatty = getattr(stream, "isatty", None)
        return "live" if isatty is not None and isatty() else "plain"
    if display is False:
        return "none"
    if display not in DISPLAYS:
        raise ValueError(f"display must be one of {', '.join(DISPLAYS)} (got {display!r})")
    return str(display)


class Bar(Protocol):
    """What the run needs of a bar: tqdm's (terminal or notebook) or the plain display's counter."""

    def update(self, n: int = 1) -> object: ...

    def set_postfix(self, ordered_dict: dict[str, int] | None = None, refresh: bool = True) -> None: ...

    def close(self) -> None: ...


class _Counter:
    """The state of one stage for the plain display (the same fields as a tqdm bar uses here)."""

    def __init__(self, total: int):
        self.n, self.total, self.postfix = 0, total, ""

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix(self, ordered_dict: dict[str, int] | None = None, refresh: bool = True) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in (ordered_dict or {}).items())

    def close(self) -> None:
        pass


class Progress:
    """One bar (or plain line) per stage with done/errors/cache-hit counts."""

    def __init__(self, totals: dict[str, int], display: bool | str, clients: dict[str, LLMClient],
                 roles: dict[str, str], stream: TextIO | None = None, interval_s: float = PLAIN_INTERVAL_S):
        self.clients = clients
        self.roles = roles  # stage -> the role whose cache hits its bar shows
        self.errors: Counter[str] = Counter()
        self.stream = stream or sys.stderr
        self.mode = resolve_display(display, self.stream)
        self.interval_s = interval_s
        self.started = self.last_line = time.monotonic()
        self.bars: dict[str, Bar] = {}
        if self.mode == "notebook":
            try:
                from tqdm.notebook import tqdm as notebook_bar

                self.bars = {s: notebook_bar(total=n, desc=s, leave=True) for s, n in totals.items()}
            except ImportError as exc:  # widgets need ipywidgets; say so and write plain lines instead
                print(f"progress: notebook bars unavailable ({exc}); writing plain lines", file=self.stream)
                self.mode = "plain"
        if self.mode == "live":
            from tqdm import tqdm

            self.bars = {s: tqdm(total=n, desc=f"{s:<9}", position=i, leave=True, file=self.stream,
                                 dynamic_ncols=True) for i, (s, n) in enumerate(totals.items())}
        elif self.mode != "notebook":
            self.bars = {s: _Counter(n) for s, n in totals.items()}  # counted; printed only when plain

    def done(self, stage: str) -> None:
        bar = self.bars.get(stage)
        if bar is not None:
            bar.update(1)
            role = self.roles.get(stage)
            client = self.clients.get(role) if role else None
            postfix = {"errors": self.errors[stage]}
            if client is not None:
                postfix["cache_hits"] = client.stats.cache_hits
            bar.set_postfix(postfix, refresh=False)
        self._maybe_print()

    def failed(self, stage: str) -> None:
        self.errors[stage] += 1
        bar = self.bars.get(stage)
        if bar is not None:
            bar.set_postfix({"errors": self.errors[stage]}, refresh=True)
        self._maybe_print()

    def _maybe_print(self) -> None:
        if self.mode == "plain" and time.monotonic() - self.last_line >= self.interval_s:
            self._print_plain()

    def _print_plain(self) -> None:
        self.last_line = time.monotonic()
        elapsed = self.last_line - self.started
        for stage, bar in self.bars.items():
            assert isinstance(bar, _Counter)
            tail = f" ({bar.postfix})" if bar.postfix else ""
            print(f"progress {elapsed:6.0f}s  {stage:<9} {bar.n}/{bar.total}{tail}", file=self.stream, flush=True)

    def close(self) -> None:
        if self.mode == "plain" and self.bars:
            self._print_plain()  # the final counts, once
        for bar in self.bars.values():
            bar.close()
