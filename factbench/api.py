"""The Python entry point for whole runs: `factbench.evaluate(...)`, the same run as `factbench run`.

The CLI's `run` and `score` commands are a thin layer over :func:`prepare_run`: the same
options model, run directory, call cache and resume. `evaluate` also works where an event
loop is already running (a notebook): the run then goes to a worker thread with its own loop,
and interrupting the caller (a notebook's stop button) stops that run too, within seconds,
leaving it resumable. Every role is checked first (pre-flight), as on the command line.
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
STOP_WAIT_S = 3.0  # how long an interrupted caller waits for the run to stop (it takes about 1 s)
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


def preflight_roles(options: RunOptions, roles: dict[str, Any], skip_hint: str = "--no-preflight") -> list[str]:
    """Every role's key, endpoints and model name checked before any work (unless `preflight=False`);
    raises PreflightError naming what is wrong, else returns one line per endpoint. `skip_hint`: how
    the caller turns the check off (the CLI's flag, or the keyword in Python)."""
    if not options.preflight:
        return []
    from factbench.llm.preflight import preflight

    return preflight(roles, skip_hint=skip_hint)


def call_blocking(fn: Callable[[], T], cancel: Callable[[], None] | None = None) -> T:
    """fn() here, or in a worker thread when this thread already runs an event loop (a notebook).
    Interrupted while it waits (KeyboardInterrupt), it calls `cancel` and waits briefly for the
    worker to stop, so that nothing goes on running behind the caller's back."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn()
    box: dict[str, Any] = {}
    finished = threading.Event()  # not Thread.join: on Python 3.11 an interrupted join marks the thread ended

    def work() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed back to the caller's thread
            box["error"] = exc
        finally:
            finished.set()

    worker = threading.Thread(target=work, name="factbench-evaluate")
    worker.start()
    try:
        finished.wait()
    except BaseException:
        if cancel is not None:
            cancel()
        finished.wait(STOP_WAIT_S)
        raise
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
    """Run (or resume) an evaluation, exactly like `factbench run`; keywords are its flags
    (`--judge-base-url` is `judge_base_url`, `--no-relevance` is `relevance=False`, `--no-cache` is
    `use_cache=False`).

    `factbench.evaluate("longfact-objects", model="openai/m", model_base_url=URL, judge="openai/j",
    judge_base_url=URL, limit=20, run_id="ckpt-1200")`. Re-using a run id resumes that run.
    `preflight=False` skips the check of every role before the run (`--no-preflight`).
    """
    opts = RunOptions.of(model=model, judge=judge, **options)
    if opts.log_to:
        from factbench.reports.trackers import require

        require(opts.log_to)
    preflight_roles(opts, opts.role_specs(with_model=True), skip_hint="preflight=False")
    runner = prepare_run(opts, resolve(tasks))
    summary = call_blocking(runner.run, cancel=runner.stop.cancel)
    if opts.log_to:
        from factbench.reports.trackers import log_run

        log_run(opts.log_to, runner.settings.run_dir)
    return EvalResult(runner.settings.run_dir, summary)


async def evaluate_async(tasks: TaskSelector = "all", model: str | None = None, judge: str | None = None,
                         **options: Any) -> EvalResult:
    """`await factbench.evaluate_async(...)`: the run goes to a worker thread; this loop stays free.
    Cancelling the awaiting task stops the run (within seconds, resumable) before it re-raises."""
    opts = RunOptions.of(model=model, judge=judge, **options)
    await asyncio.to_thread(preflight_roles, opts, opts.role_specs(with_model=True), "preflight=False")
    runner = await asyncio.to_thread(prepare_run, opts, resolve(tasks))
    job = asyncio.ensure_future(asyncio.to_thread(runner.run))
    try:
        summary = await asyncio.shield(job)
    except asyncio.CancelledError:
        runner.stop.cancel()
        await asyncio.wait({job}, timeout=STOP_WAIT_S)
        if job.done() and not job.cancelled():
            job.exception()  # the run's Interrupted: retrieved, the cancellation is what the caller sees
        raise
    return EvalResult(runner.settings.run_dir, summary)
