"""A notebook kernel's way of running a cell, for tests and benchmarks of stopping `evaluate()`.

`python -m factbench.testing.notebook_cell OPTIONS_JSON` runs `factbench.evaluate(...)` inside an
event loop on the main thread, as a Jupyter kernel runs a cell (so the run goes to a worker
thread). A SIGINT then raises KeyboardInterrupt in the main thread, as the kernel's interrupt does.
The process prints one JSON line when the cell is interrupted (when, whether the worker is still
alive, answers on disk then and a second later), then runs the cell again and prints the result.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time
from pathlib import Path


def _answers(run_dir: Path) -> int:
    path = run_dir / "answers.jsonl"
    return sum(1 for line in path.read_text().splitlines() if line.strip()) if path.exists() else 0


def main() -> None:
    import factbench
    from factbench.store.run_dir import RunStore

    if len(sys.argv) != 2:
        print("usage: python -m factbench.testing.notebook_cell OPTIONS_JSON  (keywords of factbench.evaluate; "
              "results_dir and run_id required)", file=sys.stderr)
        sys.exit(2)
    options = json.loads(sys.argv[1])
    run_dir = Path(options["results_dir"]) / options["run_id"]

    async def cell():
        return factbench.evaluate("longfact-objects", **options)

    loop = asyncio.new_event_loop()  # a kernel runs each cell inside its event loop
    print(json.dumps({"running": True}), flush=True)
    try:
        loop.run_until_complete(cell())
        print(json.dumps({"finished": True}), flush=True)
        return
    except KeyboardInterrupt:
        stopped = time.time()
    alive = [t.name for t in threading.enumerate() if t.name == "factbench-evaluate"]
    RunStore(run_dir).open().close()  # raises RunLocked if the interrupted run still holds the directory
    before = _answers(run_dir)
    time.sleep(1.0)
    print(json.dumps({"stopped_at": stopped, "worker_alive": alive, "answers": before,
                      "answers_1s_later": _answers(run_dir)}), flush=True)
    result = loop.run_until_complete(cell())  # the cell run again: it resumes the same run
    print(json.dumps({"resumed": result.summary.overall.n_answers, "invocations": result.summary.invocations}),
          flush=True)


if __name__ == "__main__":
    main()
