"""factbench: how factual are long-form LLM answers?

Pipeline: prompt -> answer -> claims -> evidence -> verdicts -> metrics -> tables.
The stages are registered (:mod:`factbench.stages.registry`) and run by :mod:`factbench.pipeline.pipeline`.

Python API: :func:`evaluate` (a whole run, like `factbench run`), :func:`load_run` (a run's
tables), :class:`Scorer` (the training reward of arbitrary prompt/response pairs) and the
trainer adapters :class:`TRLReward`, :class:`AsyncTRLReward` and :class:`VerlReward`, and
:class:`ServiceScorer` (the same scoring through `factbench reward serve`) (docs/reward.md).
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("factbench")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+source"

# Loaded on first use, so importing any factbench module loads only what that module needs.
_LAZY = {"load_run": "factbench.reports.run_tables", "Prompt": "factbench.tasks", "Task": "factbench.tasks",
         "evaluate": "factbench.api", "evaluate_async": "factbench.api", "EvalResult": "factbench.api",
         "Scorer": "factbench.reward", "ScoreResult": "factbench.reward", "TrainingReward": "factbench.reward",
         "TRLReward": "factbench.reward", "AsyncTRLReward": "factbench.reward", "VerlReward": "factbench.reward",
         "ServiceScorer": "factbench.reward"}

__all__ = ["AsyncTRLReward", "EvalResult", "Prompt", "ScoreResult", "Scorer", "ServiceScorer", "TRLReward", "Task",
           "TrainingReward", "VerlReward", "__version__", "evaluate", "evaluate_async", "load_run"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'factbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
