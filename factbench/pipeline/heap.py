"""Keeping the cyclic garbage collector off the objects that outlive a run.

Python's full collections walk every tracked object. Before a run starts, the process already
holds tens of thousands of long-lived ones (modules, spaCy's vocabulary, the loaded records and
prompts), and a run allocates enough small objects (sentences, terms, excerpts) to trigger
several full collections, each walking all of them again: measured on the realistic bench
(50 answers, corpus evidence), two full collections took about 210 ms of CPU; with the heap
frozen, one took 14-22 ms. Freezing the heap at
the start of a run (`gc.freeze`) moves those objects out of the collector's reach for the run's
duration; they are still freed by reference counting, and the run's end puts them back
(`gc.unfreeze`), so a process that runs many evaluations keeps collecting their cycles.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_runs = [0]  # runs working now on a frozen heap


@contextmanager
def long_lived_heap() -> Iterator[None]:
    """Within the block, the objects that existed at its start (and those frozen later by
    :func:`freeze_loaded`) are skipped by the cyclic collector."""
    _runs[0] += 1
    gc.freeze()
    try:
        yield
    finally:
        _runs[0] -= 1
        gc.unfreeze()


def freeze_loaded() -> None:
    """Add what was just loaded (spaCy, by the warm-up thread) to the frozen objects, while a run
    is working (a warm-up that ends after its run leaves the heap as it is)."""
    if _runs[0]:
        gc.freeze()
