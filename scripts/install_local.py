"""`make install-local`: the demo's llama.cpp server, built once as a portable wheel.

llama-cpp-python ships source only, so pip compiles llama.cpp. Left to its defaults the build
tunes itself to the build machine's CPU (-march=native): on a CPU with AMX or AVX-512 the library
then contains instructions that a machine without them (or a VM that hides them) traps as
`invalid opcode` at the first completion. This script builds with a fixed x86-64-v3 baseline
(AVX2, FMA, F16C, BMI2; no AVX-512, no AMX), keeps the wheel in a per-user cache keyed by the
version and build flags (so a second clone installs in seconds, and a wheel built natively by an
earlier plain `pip install` is never reused), and prints progress while the compiler runs.

No binary wheel on PyPI fits instead (checked for llama-cpp-python 0.3.36's era): llama-cpp-py-sync's
"manylinux2014" CPU wheels need glibc 2.38 (Debian 12 has 2.36), and llama-cpp-cffi is a 291 MB
wheel for one Python version that fetches tokenizers from the Hugging Face Hub at run time.

Two builds started at once (two clones, two terminals) do not both compile: the build holds a
file lock next to the cache, and whoever waited on it finds the finished wheel when it gets it.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[1]
PORTABLE_CMAKE_ARGS = (
    "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON "
    "-DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF "
    "-DGGML_AVX_VNNI=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF "
    "-DLLAVA_BUILD=OFF"  # the multimodal library: the demo serves a text model only
)
PROGRESS = re.compile(r"\[\s*\d+/\d+\]|\[\s*\d+%\]")
SOURCE = re.compile(r"\s-c\s+(\S+)")
HEARTBEAT_S = 20.0
NON_PORTABLE = {"AVX-512": re.compile(r"%zmm\d|\{%k[1-7]\}"),
                "AMX": re.compile(r"\b(tileloadd|tilezero|tilestored|tdpb[a-z]+)\b")}


def pinned_requirement() -> str:
    """The `local` extra's llama-cpp-python pin, read from pyproject.toml (one place for it)."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for req in extras["local"]:
        if req.startswith("llama-cpp-python"):
            return req
    raise SystemExit("install-local: no llama-cpp-python pin in the `local` extra of pyproject.toml")


def cache_dir(requirement: str, cmake_args: str) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    key = hashlib.sha256(f"{requirement}\n{cmake_args}".encode()).hexdigest()[:12]
    version = requirement.split("==")[-1]
    return Path(os.environ.get("FACTBENCH_WHEEL_CACHE", base / "factbench" / "wheels")) / f"llama-cpp-python-{version}-{key}"


def build_wheel(requirement: str, cmake_args: str, dest: Path) -> Path:
    """pip wheel with the portable flags; progress lines at most every HEARTBEAT_S seconds."""
    package = requirement.split("[")[0].split("==")[0] + "==" + requirement.split("==")[-1]
    env = dict(os.environ, CMAKE_ARGS=cmake_args, CMAKE_BUILD_PARALLEL_LEVEL=str(os.cpu_count() or 2))
    tmp = Path(tempfile.mkdtemp(prefix="llama-wheel-"))
    log_path = tmp / "build.log"
    cmd = [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-cache-dir",
           "--no-binary", "llama-cpp-python", package, "-w", str(tmp)]
    print(f"install-local: building {package} from source (first time only: about 15 CPU-minutes, "
          "longer on a busy machine); "
          f"flags: {cmake_args}\ninstall-local: full log: {log_path}", flush=True)
    start = time.monotonic()
    progress = ["preparing the build (pip, cmake)"]

    def pump(stream, log) -> None:
        for line in stream:
            log.write(line)
            step = PROGRESS.search(line)
            if step:
                source = SOURCE.search(line)
                what = f"compiling {Path(source.group(1)).name}" if source else line[step.end():].strip()[:70]
                progress[0] = f"{step.group(0)} {what}"

    with log_path.open("w") as log, subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE,
                                                     stderr=subprocess.STDOUT, text=True) as proc:
        reader = threading.Thread(target=pump, args=(proc.stdout, log), daemon=True)
        reader.start()
        while True:  # a heartbeat even while one long compile prints nothing
            try:
                proc.wait(HEARTBEAT_S)
                break
            except subprocess.TimeoutExpired:
                print(f"install-local: {time.monotonic() - start:4.0f}s  {progress[0]}", flush=True)
        reader.join()
    if proc.returncode != 0:
        tail = log_path.read_text().splitlines()[-30:]
        raise SystemExit("install-local: the llama-cpp-python build failed (exit "
                         f"{proc.returncode}); last lines of {log_path}:\n" + "\n".join(tail))
    wheels = sorted(tmp.glob("*.whl"))
    if not wheels:
        raise SystemExit(f"install-local: pip reported success but left no wheel in {tmp}")
    dest.mkdir(parents=True, exist_ok=True)
    final = dest / wheels[0].name
    shutil.copy(log_path, dest / "build.log")
    partial = dest / f".{final.name}.partial"
    shutil.move(str(wheels[0]), partial)
    os.replace(partial, final)  # atomic: a reader sees no wheel or the whole wheel
    print(f"install-local: built in {time.monotonic() - start:.0f}s -> {final}", flush=True)
    return final


def cached_or_built(requirement: str, cmake_args: str, dest: Path, build=build_wheel) -> Path:
    """The cached wheel, else one built under the cache's lock. The cache is looked at again once
    the lock is held: a build that finished while this one waited is used, not repeated."""
    wheels = sorted(dest.glob("*.whl"))
    if wheels:
        print(f"install-local: reusing the portable wheel {wheels[0]}", flush=True)
        return wheels[0]
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest.parent / f"{dest.name}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"install-local: another build of the same wheel is running; waiting for it (lock: {lock.name})",
                  flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        wheels = sorted(dest.glob("*.whl"))
        if wheels:
            print(f"install-local: the other build finished; reusing {wheels[0]}", flush=True)
            return wheels[0]
        return build(requirement, cmake_args, dest)


def main() -> int:
    requirement = pinned_requirement()
    cmake_args = os.environ.get("FACTBENCH_LLAMA_CMAKE_ARGS", PORTABLE_CMAKE_ARGS)
    wheel = cached_or_built(requirement, cmake_args, cache_dir(requirement, cmake_args))
    extra = requirement[requirement.index("[") : requirement.index("]") + 1] if "[" in requirement else ""
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", f"{wheel}{extra}"], check=True)
    found = non_portable_instructions()
    if found:
        raise SystemExit(f"install-local: the installed llama.cpp library uses {found}; it would crash on CPUs "
                         "without them. Remove the cached wheel above and rebuild.")
    return 0


def non_portable_instructions() -> str:
    """'' when the installed CPU backend has no AVX-512 or AMX instructions (checked with objdump
    where it exists), else a description of what it found."""
    objdump = shutil.which("objdump")
    probe = subprocess.run([sys.executable, "-c", "import llama_cpp, os; print(os.path.dirname(llama_cpp.__file__))"],
                           capture_output=True, text=True)
    if not objdump or probe.returncode != 0:
        return ""
    found = set()
    for lib in sorted((Path(probe.stdout.strip()) / "lib").glob("libggml-cpu*.so")):
        text = subprocess.run([objdump, "-d", "--no-show-raw-insn", str(lib)], capture_output=True, text=True).stdout
        found |= {name for name, pattern in NON_PORTABLE.items() if pattern.search(text)}
    return ", ".join(sorted(found))


if __name__ == "__main__":
    raise SystemExit(main())
