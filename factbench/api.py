"""The Python entry point for whole runs: `factbench.evaluate(...)`, the same run as `factbench run`.

The CLI's `run` and `score` commands are a thin layer over :func:`prepare_run`: the same
options model, run directory, call cache and resume. `evaluate` also works where an event
loop is already running (a notebook): the run then goes to a worker thread with its own loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from factbench.pipeline.options import RunOptions, default_run_id
from factbench.store.artefacts import RunSummary
from factbench.tasks import Task

T = TypeVar("T")
TaskSelector = str | Task | Sequence[str | Task]

__all__ = ["EvalResult", "evaluate", "evaluate_async", "prepare_run"]


def resolve(tasks: TaskSelector) -> list[Task]:
    """`tasks` as the CLI's --tasks string, a Task, or a list mixing names and Task objects."""
    from factbench.tasks import resolve_tasks

    if isinstance(tasks, str):
        return resolve_tasks(tasks)
    items = [tasks] if isinstance(tasks, Task) else list(tasks)
    out: dict[str, Task] = {}
    for item in items:
        for task in ([item] if isinstance(item, Task) else resolve_tasks(item)):
            out.setdefault(task.name, task)
    return list(out.values())


def prepare_run(options: RunOptions, tasks: list[Task], *, with_model: bool = True,
                responses: str | None = None, select_from_run: str | None = None, run_id: str | None = None):
    """A Runner for these options: role specs, settings and cache built once, for CLI and Python alike."""
    from factbench.pipeline.runner import Runner

    responses = responses if responses is not None else options.responses
    roles = options.role_specs(with_model)
    run_id = run_id or options.run_id or default_run_id(options.model or Path(responses or "responses").stem)
    settings = options.settings(run_id, responses, select_from_run)
    return Runner(settings, roles, tasks, options.open_cache())


def call_blocking(fn: Callable[[], T]) -> T:
    """fn() here, or in a worker thread when this thread already runs an event loop (a notebook)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn()
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed back to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=work, name="factbench-evaluate")
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


@dataclass(frozen=True)
class EvalResult:
    """A finished run: its directory, its summary.json (typed), and per-answer / per-claim tables."""

    run_dir: Path
    summary: RunSummary

    @classmethod
    def load(cls, run_dir: str | Path) -> EvalResult:
        from factbench.store.run_dir import RunStore

        summary = RunStore(run_dir).read_summary()
        if summary is None:
            raise FileNotFoundError(f"{run_dir} has no summary.json (not a finished run directory)")
        return cls(Path(run_dir), summary)

    @property
    def failed_samples(self) -> int:
        return self.summary.errors.failed_samples

    def scores_df(self):
        """One row per answer with every scores.jsonl field, the prompt and the answer (`load_run(...).answers`)."""
        from factbench.reports.run_tables import load_run

        return load_run(self.run_dir).answers

    def claims_df(self):
        """One row per claim: text, sentence, label (None when the judge gave none), evidence (`load_run(...).claims`)."""
        from factbench.reports.run_tables import load_run

        return load_run(self.run_dir).claims


def evaluate(tasks: TaskSelector = "all", model: str | None = None, judge: str | None = None,
             **options: Any) -> EvalResult:
    """Run (or resume) an evaluation, exactly like `factbench run`; keywords are its flags.

    `factbench.evaluate("longfact-objects", model="openai/m", model_base_url=URL, judge="openai/j",
    judge_base_url=URL, limit=20, run_id="ckpt-1200")`. Re-using a run id resumes that run.
    """
    opts = RunOptions(model=model, judge=judge, **options)
    runner = prepare_run(opts, resolve(tasks))
    summary = call_blocking(runner.run)
    return EvalResult(runner.settings.run_dir, summary)


async def evaluate_async(tasks: TaskSelector = "all", model: str | None = None, judge: str | None = None,
                         **options: Any) -> EvalResult:
    """`await factbench.evaluate_async(...)`: the run goes to a worker thread; this loop stays free."""
    return await asyncio.to_thread(evaluate, tasks, model, judge, **options)
