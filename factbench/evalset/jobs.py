"""Units of work of an eval-set and where their results live.

A cell is one (run, task) pair; a large cell may be split into shards (`--shards-per-cell N`).
Each job is one `factbench.evaluate()` call into its own run directory, so a job resumes
exactly like `factbench run --run-id` does, and an executor (local threads or Ray tasks) only
has to call :func:`run_job` and hand back its :class:`JobResult`.

Layout under --out:  cells/<task>/<run_id>/             one finished cell (a run over one task)
                     cells/<task>/<run_id>.shards/I-of-N  its shards, when split
                     runs/<run_id>/                     the run over all its tasks (cells joined)
                     leaderboard/                       the leaderboard of runs/
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Job:
    run_id: str
    task: str
    results_dir: str  # evaluate()'s results_dir; the job's run directory is results_dir/dir_name
    dir_name: str
    shard: str | None = None  # "I/N"
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def key(self) -> str:
        return f"{self.run_id} × {self.task}" + (f" [{self.shard}]" if self.shard else "")

    @property
    def run_dir(self) -> Path:
        return Path(self.results_dir) / self.dir_name


@dataclass(frozen=True)
class JobResult:
    key: str
    ok: bool
    fatal: bool = False  # a configuration error: running it again cannot help
    error: str | None = None
    answers: int = 0
    failed_samples: int = 0
    precision: float | None = None
    seconds: float = 0.0
    host: str = ""

    @property
    def finished(self) -> bool:
        """Done with nothing left to retry."""
        return self.ok and not self.failed_samples


def cell_dir(out: Path, run_id: str, task: str) -> Path:
    return out / "cells" / task / run_id


def shard_dir(out: Path, run_id: str, task: str) -> Path:
    return out / "cells" / task / f"{run_id}.shards"


def _fatal_errors() -> tuple[type[BaseException], ...]:
    """Errors of configuration or input: the same call fails the same way every time."""
    from pydantic import ValidationError

    from factbench.evidence.backends import EvidenceUnavailable
    from factbench.judges.registry import UnknownJudge
    from factbench.pipeline.options import UsageError
    from factbench.plugins import PluginError
    from factbench.store.jsonl import InputFileError
    from factbench.store.run_dir import RunLocked, RunMismatch
    from factbench.tasks import TaskDataUnavailable, TaskError

    return (UsageError, ValidationError, TaskError, TaskDataUnavailable, InputFileError, RunMismatch, RunLocked,
            EvidenceUnavailable, UnknownJudge, PluginError)


def run_job(job: Job) -> JobResult:
    """One evaluate() call; never raises for the run's own failures (they come back as a result),
    so an executor can send it anywhere and decide about retries from the result alone."""
    import socket

    from factbench.api import evaluate
    from factbench.llm.redact import redact

    started = time.monotonic()
    host = socket.gethostname()
    try:
        result = evaluate(tasks=[job.task], run_id=job.dir_name, results_dir=job.results_dir, shard=job.shard,
                          **job.options)
    except _fatal_errors() as exc:
        return JobResult(job.key, ok=False, fatal=True, error=redact(f"{type(exc).__name__}: {exc}"),
                         seconds=time.monotonic() - started, host=host)
    except Exception as exc:  # the judge went away, the disk filled, ...: another attempt may succeed
        return JobResult(job.key, ok=False, error=redact(f"{type(exc).__name__}: {exc}"),
                         seconds=time.monotonic() - started, host=host)
    task = result.summary.tasks.get(job.task)
    precision = task.metrics.get("precision") if task else None
    return JobResult(job.key, ok=True, answers=task.n_answers if task else 0,
                     failed_samples=result.failed_samples,
                     precision=precision.mean if precision is not None else None,
                     seconds=time.monotonic() - started, host=host)
