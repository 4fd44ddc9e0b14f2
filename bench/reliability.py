"""Reliability figures: how fast a run stops, and what hangs cost, over real HTTP and real processes.

- Ctrl-C / SIGTERM: seconds from the signal to the exit of a busy `factbench run` child, and its
  exit code (the child runs under this interpreter: run the script with each Python to compare);
- dead judge: seconds from SIGKILL of the judge server to the exit of the run (circuit breaker);
- hangs: wall time of a run where a share of the judge's requests never answer, against none.

    python bench/reliability.py                 # all three
    python bench/reliability.py --only signals  # one part
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import write_longfact_fixture  # noqa: E402

from factbench.serving.judge_server import free_port, wait_ready  # noqa: E402
from factbench.testing.scripted_server import Fault, ScriptedServer, ScriptedState  # noqa: E402


def _run_args(data: Path, root: Path, model_url: str, judge_url: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "factbench", "run", "--tasks", "longfact-objects", "--data-dir", str(data),
            "--results-dir", str(root / "res"), "--run-id", "b", "--cache", str(root / "cache.sqlite"),
            "--no-progress", "--evidence", "none", "--model", "openai/m", "--model-base-url", model_url, "--judge", "openai/j",
            "--judge-base-url", judge_url, *extra]


def _lines(path: Path) -> int:
    return sum(1 for x in path.read_text().splitlines() if x.strip()) if path.exists() else 0


def _wait_for(path: Path, n: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while _lines(path) < n and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)


def signals(trials: int) -> None:
    for signum in (signal.SIGINT, signal.SIGTERM):
        took, codes = [], set()
        for _ in range(trials):
            with tempfile.TemporaryDirectory() as tmp, \
                    ScriptedServer(ScriptedState(faults=[Fault("sleep:0.4", times=10**6)], keep_log=False)) as srv:
                root = Path(tmp)
                data = write_longfact_fixture(root / "data", n_topics=4, per_topic=10)
                proc = subprocess.Popen(_run_args(data, root, srv.base_url, srv.base_url, "--parallel", "64",
                                                  "--model-concurrency", "2", "--judge-concurrency", "2"),
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                _wait_for(root / "res" / "b" / "answers.jsonl", 2, proc)
                time.sleep(0.5)
                sent = time.monotonic()
                proc.send_signal(signum)
                proc.wait(60)
                took.append(time.monotonic() - sent)
                codes.add(proc.returncode)
        print(f"python {sys.version.split()[0]}  {signal.Signals(signum).name:<7}  exit {sorted(codes)}  "
              f"stop s: median {sorted(took)[len(took) // 2]:.2f}, max {max(took):.2f} ({trials} trials)")


def dead_judge(trials: int) -> None:
    took, codes = [], set()
    for _ in range(trials):
        with tempfile.TemporaryDirectory() as tmp, ScriptedServer(ScriptedState(keep_log=False)) as model:
            root = Path(tmp)
            data = write_longfact_fixture(root / "data", n_topics=4, per_topic=15)
            port = free_port()
            judge = subprocess.Popen([sys.executable, "-m", "factbench.testing.scripted_server", "--port", str(port),
                                      "--decode-tokens-per-s", "100"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_ready(f"http://127.0.0.1:{port}/v1", judge, timeout_s=30, interval_s=0.1)
            proc = subprocess.Popen(_run_args(data, root, model.base_url, f"http://127.0.0.1:{port}/v1",
                                              "--judge-concurrency", "4"),
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _wait_for(root / "res" / "b" / "verdicts.jsonl", 3, proc)
            killed = time.monotonic()
            judge.kill()
            judge.wait()
            proc.wait(120)
            took.append(time.monotonic() - killed)
            codes.add(proc.returncode)
    print(f"dead judge: exit {sorted(codes)}, stop s after SIGKILL: median {sorted(took)[len(took) // 2]:.1f}, "
          f"max {max(took):.1f} ({trials} trials, 60 prompts)")


def _sometimes(share: float):
    rng = random.Random(1)
    return lambda body: rng.random() < share


def hangs(rate: float, prompts: int) -> None:
    walls = {}
    for share in (0.0, rate):
        hang = _sometimes(share)
        state = ScriptedState(keep_log=False, faults=[Fault("sleep:600", when=hang, times=10**9)] if share else [])
        server = ScriptedServer(state).start()  # never stopped: hung handlers end with this process
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            data = write_longfact_fixture(root / "data", n_topics=prompts // 20, per_topic=20)
            started = time.monotonic()
            proc = subprocess.run(_run_args(data, root, server.base_url, server.base_url), capture_output=True)
            walls[share] = (time.monotonic() - started, proc.returncode, state.requests.total())
    for share, (wall, code, requests) in walls.items():
        print(f"hangs {share:.0%} of requests: wall {wall:.1f}s, exit {code}, {requests} requests ({prompts} prompts)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("signals", "dead-judge", "hangs"))
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--hang-rate", type=float, default=0.03)
    parser.add_argument("--prompts", type=int, default=100)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.only in (None, "signals"):
        signals(args.trials)
    if args.only in (None, "dead-judge"):
        dead_judge(args.trials)
    if args.only in (None, "hangs"):
        hangs(args.hang_rate, args.prompts)


if __name__ == "__main__":
    main()
