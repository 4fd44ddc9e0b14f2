"""The local executor: jobs on threads of this process, `slots` at a time."""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from factbench.evalset.jobs import Job, JobResult, run_job


class LocalExecutor:
    """Each job is one evaluate() call with its own event loop, on its own thread."""

    name = "local"

    def __init__(self, slots: int = 1):
        self.slots = max(1, slots)
        self._pool = ThreadPoolExecutor(max_workers=self.slots, thread_name_prefix="factbench-cell")

    def submit(self, job: Job) -> Future:
        return self._pool.submit(run_job, job)

    def wait(self, handles: list[Future]) -> list[tuple[Future, JobResult]]:
        done, _ = wait(handles, return_when=FIRST_COMPLETED)
        return [(h, h.result()) for h in done]

    def close(self, wait: bool = True) -> None:
        """Without `wait`, running jobs are left to the process's exit (the CLI leaves at once)."""
        self._pool.shutdown(wait=wait, cancel_futures=True)
