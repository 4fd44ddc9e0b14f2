"""The Ray executor (extra `factbench[ray]`): every job is a Ray task on an existing cluster
(`--ray-address`) or on a Ray started on this machine for the set.

Results go through the run directories, as with the local executor, so every node must see
--out at the same path (a shared filesystem) and have factbench installed. A task whose worker
dies is run again by Ray (`max_retries`); a task that comes back failed is retried by the
eval-set's own bounded loop.
"""

from __future__ import annotations

from typing import Any

from factbench.evalset.jobs import Job, JobResult, run_job

INSTALL_HINT = "the ray executor needs Ray: pip install 'factbench[ray]'"


class RayUnavailable(RuntimeError):
    pass


def import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailable(f"{INSTALL_HINT} ({exc})") from None
    return ray


class RayExecutor:
    name = "ray"

    def __init__(self, address: str | None = None, max_retries: int = 3, cpus_per_job: float = 1.0):
        self.ray = import_ray()
        started_here = not self.ray.is_initialized()
        if started_here:
            self.ray.init(address=address, log_to_driver=False, include_dashboard=False)
        self._owns_ray = started_here
        self._cpus = cpus_per_job
        self._remote = self.ray.remote(num_cpus=cpus_per_job, max_retries=max_retries, retry_exceptions=False)(run_job)
        self._keys: dict[Any, str] = {}

    @property
    def slots(self) -> int:
        """Jobs the cluster runs at once: its CPUs over the CPUs one job asks for."""
        cpus = float(self.ray.cluster_resources().get("CPU", 1.0))
        return max(1, int(cpus // self._cpus))

    def submit(self, job: Job) -> Any:
        ref = self._remote.remote(job)
        self._keys[ref] = job.key
        return ref

    def wait(self, handles: list[Any]) -> list[tuple[Any, JobResult]]:
        ready, _ = self.ray.wait(handles, num_returns=1)
        out = []
        for ref in ready:
            key = self._keys.pop(ref, "?")
            try:
                out.append((ref, self.ray.get(ref)))
            except self.ray.exceptions.RayError as exc:  # the worker died more often than max_retries
                out.append((ref, JobResult(key, ok=False, error=f"{type(exc).__name__}: {str(exc)[:500]}")))
        return out

    def close(self, wait: bool = True) -> None:
        if self._owns_ray:  # a Ray started here ends with the set (its tasks with it)
            self.ray.shutdown()
