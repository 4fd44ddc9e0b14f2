"""Reliability figures: how fast a run stops, and what hangs cost, over real HTTP and real processes.

- Ctrl-C / SIGTERM: seconds from the signal to the exit of a busy `factbench run` child, and its
  exit code (the child runs under this interpreter: run the script with each Python to compare);
- dead judge: seconds from SIGKILL of the judge server to the exit of the run (circuit breaker);
- hangs: wall time of a run where a share of the judge's requests never answer, against none;
- informativeness: a judge with malformed and wrong-count informativeness answers, then two resumes
  against the healed judge: claims without a class, answers rewarded on a partial judgement;
- kills: two SIGKILLs and a resume: calls the judge served against calls the run accounted;
- cancel: seconds from an interrupt to a stopped run, for a notebook cell (SIGINT) and for a
  cancelled `evaluate_async` task;
- preflight: seconds for `evaluate()` to fail against a server that does not serve the model,
  and against no server.

    python bench/reliability.py                 # every part
    python bench/reliability.py --only signals  # one part
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
from factbench.testing.informativeness_faults import faulty_informativeness  # noqa: E402
from factbench.testing.scripted_server import Fault, ScriptedServer, ScriptedState, request_kind  # noqa: E402


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


def _records(path: Path) -> dict[str, dict]:
    rows = [json.loads(x) for x in path.read_text().splitlines() if x.strip()] if path.exists() else []
    return {f"{r['task']}/{r['id']}": r for r in rows}


def informativeness() -> None:
    state = ScriptedState(answer_sentences=12, keep_log=False, responder=faulty_informativeness(0.30, 0.05))
    with tempfile.TemporaryDirectory() as tmp, ScriptedServer(state) as srv:
        root = Path(tmp)
        data = write_longfact_fixture(root / "data", n_topics=3, per_topic=10)
        run = root / "res" / "b"
        for invocation in ("faulty judge", "resume 1, healed", "resume 2, healed"):
            code = subprocess.run(_run_args(data, root, srv.base_url, srv.base_url, "--claims-per-call", "4"),
                                  capture_output=True).returncode
            state.responder = None
            claims, informativeness = _records(run / "claims.jsonl"), _records(run / "informativeness.jsonl")
            unclassified = sum(1 for key, rec in claims.items() for i in range(len(rec["claims"]))
                               if i >= len(informativeness.get(key, {}).get("classes", []))
                               or informativeness[key]["classes"][i] is None)
            rows = [json.loads(x) for x in (run / "scores.jsonl").read_text().splitlines()]
            partial = sum(1 for r in rows if r["reward"] is not None and (r["informativeness_errors"] or r["incomplete"]))
            print(f"informativeness, {invocation}: exit {code}, {unclassified} of {sum(len(r['claims']) for r in claims.values())} "
                  f"claims without a class, {sum(r['reward'] is None for r in rows)} of {len(rows)} answers unscored, "
                  f"{partial} rewarded on a partial judgement")


def kills(trials: int) -> None:
    for _ in range(trials):
        state = ScriptedState(keep_log=False, faults=[Fault("sleep:0.05", times=10**9)])
        with tempfile.TemporaryDirectory() as tmp, ScriptedServer(state) as srv:
            root = Path(tmp)
            data = write_longfact_fixture(root / "data", n_topics=4, per_topic=8)
            args = _run_args(data, root, srv.base_url, srv.base_url, "--model-concurrency", "2",
                             "--judge-concurrency", "2", "--price-per-1k-input", "1", "--price-per-1k-output", "2")
            for target in (6, 16):
                proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                _wait_for(root / "res" / "b" / "verdicts.jsonl", target, proc)
                proc.kill()
                proc.wait()
            code = subprocess.run(args, capture_output=True).returncode
            summary = json.loads((root / "res" / "b" / "summary.json").read_text())
            fresh = sum(s["calls"] - s["cache_hits"] for s in summary["calls"].values())
            tokens = sum(s["prompt_tokens"] for s in summary["calls"].values())
            print(f"kills: exit {code}, {summary['invocations']} invocations (2 killed); judge served "
                  f"{state.requests.total()} calls and {state.input_tokens} prompt tokens, the run accounts "
                  f"{fresh} calls and {tokens} prompt tokens")


def _eval_options(url: str, data: Path, root: Path, run_id: str) -> dict:
    return dict(model="openai/m", model_base_url=url, judge="openai/j", judge_base_url=url, data_dir=str(data),
                results_dir=str(root / "res"), run_id=run_id, evidence="none", progress=False,
                model_concurrency=2, judge_concurrency=2, cache=str(root / "cache.sqlite"))


def cancel(trials: int) -> None:
    import factbench

    cell, task = [], []
    for _ in range(trials):
        slow = Fault("sleep:0.2", when=lambda b: request_kind(b) == "generate", times=10**9)
        with tempfile.TemporaryDirectory() as tmp, ScriptedServer(ScriptedState(keep_log=False, faults=[slow])) as srv:
            root = Path(tmp)
            data = write_longfact_fixture(root / "data", n_topics=4, per_topic=10)
            proc = subprocess.Popen([sys.executable, "-m", "factbench.testing.notebook_cell",
                                     json.dumps(_eval_options(srv.base_url, data, root, "nb"))],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            _wait_for(root / "res" / "nb" / "answers.jsonl", 3, proc)
            sent = time.time()
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=120)
            stopped = [json.loads(x) for x in out.splitlines() if '"stopped_at"' in x]
            cell.append(stopped[0]["stopped_at"] - sent if stopped else float("inf"))

            async def cancelled(options: dict, answers: Path) -> float:
                job = asyncio.ensure_future(factbench.evaluate_async("longfact-objects", **options))
                while _lines(answers) < 3:
                    await asyncio.sleep(0.02)
                started = time.monotonic()
                job.cancel()
                try:
                    await job
                except asyncio.CancelledError:
                    pass
                return time.monotonic() - started

            task.append(asyncio.run(cancelled(_eval_options(srv.base_url, data, root, "t"),
                                              root / "res" / "t" / "answers.jsonl")))
    for name, took in (("notebook cell, SIGINT", cell), ("evaluate_async task cancelled", task)):
        print(f"cancel, {name}: stopped and unlocked after median {sorted(took)[len(took) // 2]:.2f}s, "
              f"max {max(took):.2f}s ({trials} trials)")


def preflight() -> None:
    import factbench
    from factbench.llm.preflight import PreflightError

    with tempfile.TemporaryDirectory() as tmp, ScriptedServer(ScriptedState(models=("other",))) as srv:
        root = Path(tmp)
        data = write_longfact_fixture(root / "data", n_topics=1, per_topic=2)
        cases = (("a server that does not serve the model", srv.base_url),
                 ("no server", f"http://127.0.0.1:{free_port()}/v1"))
        for check in (True, False):  # with the check, then without it (what evaluate() did before)
            for n, (name, url) in enumerate(cases):
                started = time.monotonic()
                try:
                    result = factbench.evaluate("longfact-objects", preflight=check,
                                                **_eval_options(url, data, root, f"p{check:d}{n}"))
                    outcome = f"ran to the end: {result.summary.overall.n_answers} answers"
                except PreflightError as exc:
                    outcome = str(exc).splitlines()[1].strip()[:80]
                except Exception as exc:  # noqa: BLE001 - what a run without the check raises is the figure
                    outcome = f"{type(exc).__name__}: {str(exc)[:80]}"
                label = "preflight" if check else "preflight=False"
                print(f"{label}, {name}: {time.monotonic() - started:.2f}s: {outcome}")


PARTS = ("signals", "dead-judge", "hangs", "informativeness", "kills", "cancel", "preflight")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=PARTS)
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
    if args.only in (None, "informativeness"):
        informativeness()
    if args.only in (None, "kills"):
        kills(args.trials)
    if args.only in (None, "cancel"):
        cancel(args.trials)
    if args.only in (None, "preflight"):
        preflight()


if __name__ == "__main__":
    main()
