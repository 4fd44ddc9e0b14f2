"""Running an eval-set: every (run, task) cell through an executor, bounded retries, one
progress view, then each run's cells joined into one run directory and the leaderboard built.

Everything is resumable at the cell level: a finished cell's evaluate() call finds its work done
and sends no request; a cell interrupted anywhere (even by SIGKILL) resumes from its records.
"""

from __future__ import annotations

import shutil
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TextIO

from factbench.evalset.jobs import Job, JobResult, cell_dir, shard_dir
from factbench.evalset.manifest import Manifest


class Executor(Protocol):
    name: str

    @property
    def slots(self) -> int: ...

    def submit(self, job: Job) -> Any: ...

    def wait(self, handles: list[Any]) -> list[tuple[Any, JobResult]]: ...

    def close(self, wait: bool = True) -> None: ...


@dataclass
class SetOutcome:
    results: dict[str, JobResult]  # the last attempt of each job
    attempts: Counter[str]
    runs: list[str] = field(default_factory=list)  # joined run directories
    incomplete: list[str] = field(default_factory=list)  # runs left out: a cell did not finish
    leaderboard: Path | None = None

    @property
    def failed(self) -> list[JobResult]:
        return [r for r in self.results.values() if not r.finished]

    @property
    def fatal(self) -> list[JobResult]:
        return [r for r in self.results.values() if r.fatal]


def plan_jobs(manifest: Manifest, out: Path, shards_per_cell: int = 1, judge_budget: int | None = None,
              slots: int = 1) -> list[Job]:
    """One job per (run, task) cell, or per shard of it. Judge concurrency is a budget for the
    whole set, shared by the jobs that run at once."""
    from factbench.pipeline.settings import ROLE_DEFAULTS

    jobs = []
    for run in manifest.runs:
        options = {"progress": False, **run.options}
        total = options.get("judge_concurrency") or judge_budget or ROLE_DEFAULTS.judge_concurrency
        options["judge_concurrency"] = max(1, total // max(1, slots))
        for task in run.tasks:
            if shards_per_cell == 1:
                home = cell_dir(out, run.run_id, task)
                jobs.append(Job(run.run_id, task, str(home.parent), home.name, None, options))
                continue
            home = shard_dir(out, run.run_id, task)
            for i in range(1, shards_per_cell + 1):
                jobs.append(Job(run.run_id, task, str(home), f"{i}-of-{shards_per_cell}",
                                f"{i}/{shards_per_cell}", options))
    return jobs


class SetProgress:
    """One view over the whole set: a line per finished, retried or failed job, with the counts."""

    def __init__(self, total: int, stream: TextIO | None = None):
        self.total, self.stream = total, stream or sys.stderr
        self.done = self.failed = self.retried = self.running = 0
        self.started = time.monotonic()

    def say(self, what: str) -> None:
        elapsed = time.monotonic() - self.started
        print(f"eval-set [{self.done}/{self.total} done, {self.running} running, {self.failed} failed, "
              f"{self.retried} retried, {elapsed:.0f}s] {what}", file=self.stream, flush=True)

    def start(self, job: Job) -> None:
        self.running += 1

    def finish(self, job: Job, result: JobResult, final: bool) -> None:
        self.running -= 1
        if result.finished:
            self.done += 1
            p = "-" if result.precision is None else f"{result.precision * 100:.1f}%"
            self.say(f"{job.key}: {result.answers} answers, precision {p} ({result.seconds:.1f}s"
                      + (f" on {result.host})" if result.host else ")"))
        elif final:
            self.failed += 1
            why = result.error or f"{result.failed_samples} sample(s) failed"
            self.say(f"{job.key}: FAILED: {why}")
        else:
            self.retried += 1
            why = result.error or f"{result.failed_samples} sample(s) failed"
            self.say(f"{job.key}: retrying ({why})")


def execute(executor: Executor, jobs: list[Job], retries: int, progress: SetProgress) -> tuple[dict[str, JobResult], Counter[str]]:
    """Run every job, at most executor.slots at once; a job that fails (or leaves failed samples)
    runs again up to `retries` more times, unless its error is one of configuration."""
    pending = deque(jobs)
    running: dict[Any, Job] = {}
    attempts: Counter[str] = Counter()
    final: dict[str, JobResult] = {}
    while pending or running:
        while pending and len(running) < executor.slots:
            job = pending.popleft()
            attempts[job.key] += 1
            running[executor.submit(job)] = job
            progress.start(job)
        for handle, result in executor.wait(list(running)):
            job = running.pop(handle)
            last = result.finished or result.fatal or attempts[job.key] > retries
            progress.finish(job, result, last)
            if last:
                final[job.key] = result
            else:
                pending.append(job)
    return final, attempts


def _stale(target: Path, sources: list[Path]) -> bool:
    """True unless `target` holds a finished run written after every source's summary."""
    summary = target / "summary.json"
    if not summary.is_file():
        return True
    mtime = summary.stat().st_mtime
    return any((s / "summary.json").stat().st_mtime > mtime for s in sources)


def _rebuild(build: Any, target: Path, sources: list[Path]) -> None:
    """Write `target` afresh with `build(sources, target)`. Its summary.json is written last, so a
    kill part-way leaves a directory that `_stale` rebuilds and the leaderboard skips."""
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    build([str(s) for s in sources], target)


def assemble(manifest: Manifest, out: Path, jobs: list[Job], results: dict[str, JobResult]) -> tuple[list[str], list[str]]:
    """Merge finished shards into cells and join each run's finished cells into runs/<run_id>.
    Returns (joined runs, runs left out because a cell did not finish)."""
    from factbench.pipeline.merge import join_tasks, merge_runs

    by_cell: dict[tuple[str, str], list[Job]] = {}
    for job in jobs:
        by_cell.setdefault((job.run_id, job.task), []).append(job)
    joined, incomplete = [], []
    for run in manifest.runs:
        cells = []
        for task in run.tasks:
            parts = by_cell[(run.run_id, task)]
            if not all(results.get(j.key) and results[j.key].ok for j in parts):
                break
            home = cell_dir(out, run.run_id, task)
            if parts[0].shard:
                dirs = [j.run_dir for j in parts]
                if _stale(home, dirs):
                    _rebuild(merge_runs, home, dirs)
            cells.append(home)
        else:
            target = out / "runs" / run.run_id
            if _stale(target, cells):
                _rebuild(join_tasks, target, cells)
            joined.append(run.run_id)
            continue
        incomplete.append(run.run_id)
    return joined, incomplete


def run_set(manifest: Manifest, out: Path, executor: Executor, *, retries: int = 2, shards_per_cell: int = 1,
            judge_budget: int | None = None, stream: TextIO | None = None) -> SetOutcome:
    """Run the whole set, join its runs and build out/leaderboard from out/runs."""
    from factbench.reports.leaderboard import build

    out = out.resolve()  # jobs may run in other working directories (Ray workers)
    jobs = plan_jobs(manifest, out, shards_per_cell, judge_budget, executor.slots)
    progress = SetProgress(len(jobs), stream)
    progress.say(f"{len(manifest.runs)} runs, {len(jobs)} jobs, {executor.slots} at once ({executor.name})")
    results, attempts = execute(executor, jobs, retries, progress)
    joined, incomplete = assemble(manifest, out, jobs, results)
    outcome = SetOutcome(results, attempts, joined, incomplete)
    if joined:
        outcome.leaderboard = out / "leaderboard"
        build([out / "runs" / r for r in joined], outcome.leaderboard, warn=stream)
    return outcome
