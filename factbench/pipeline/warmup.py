"""One-off loading done off the critical path: started when a run starts, in a daemon thread.

spaCy (~1.2 s to import) is needed only for lines the sentence shortcut does not take, and
litellm (~4 s) only for roles that are not OpenAI-compatible endpoints; neither should delay
the first judge request, and neither should stall the event loop when first needed later.
"""

from __future__ import annotations

import threading

from factbench.llm.client import RoleSpec
from factbench.llm.direct import is_direct
from factbench.llm.litellm_lib import litellm
from factbench.pipeline.heap import freeze_loaded


def _load(needs_litellm: bool) -> None:
    import numpy.ma  # noqa: F401  (numpy loads it on the summary's first quantile: ~15 ms at the end of a run)

    from factbench.stages.sentences import nlp

    nlp()
    if needs_litellm:
        litellm()


def start(roles: dict[str, RoleSpec]) -> threading.Thread:
    """Begin loading what the run will need; returns the (daemon) thread doing it."""
    needs_litellm = any(not is_direct(spec.model, url) for spec in roles.values()
                        for url in (spec.base_urls or (None,)))
    def load() -> None:
        _load(needs_litellm)
        freeze_loaded()  # long-lived: kept out of the run's full collections (pipeline/heap.py)

    thread = threading.Thread(target=load, name="factbench-warm-up", daemon=True)
    thread.start()
    return thread
