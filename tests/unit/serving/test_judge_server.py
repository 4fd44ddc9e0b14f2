import subprocess
import sys
from pathlib import Path

import pytest

from factbench.cli.main import main
from factbench.serving.judge_server import (
    ServeError,
    free_port,
    llama_cpp_command,
    start,
    vllm_command,
    wait_ready,
)

ROOT = Path(__file__).resolve().parents[3]


def test_vllm_command_has_judging_settings():
    cmd = vllm_command("meta-llama/Llama-3.3-70B-Instruct", port=9001, tensor_parallel=4, max_num_seqs=128)
    assert cmd[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    joined = " ".join(cmd)
    assert "--enable-prefix-caching" in cmd
    assert "--tensor-parallel-size 4" in joined and "--port 9001" in joined and "--max-num-seqs 128" in joined
    assert "--structured-outputs-config.backend xgrammar" in joined
    assert "--served-model-name meta-llama/Llama-3.3-70B-Instruct" in joined


def test_llama_cpp_command():
    cmd = llama_cpp_command("/models/judge.gguf", port=9002, served_name="judge", threads=2)
    assert cmd[1:3] == ["-m", "llama_cpp.server"]
    assert "--model_alias judge" in " ".join(cmd) and "--n_threads 2" in " ".join(cmd)


def test_judge_serve_dry_run_prints_the_command(capsys):
    assert main(["judge", "serve", "--model", "Qwen/Qwen2.5-72B-Instruct", "--tensor-parallel", "2",
                 "--port", "8123", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "--tensor-parallel-size 2" in out and "--port 8123" in out and "--enable-prefix-caching" in out


def test_start_waits_for_a_local_stand_in_and_stops_it():
    port = free_port()
    cmd = [sys.executable, "-m", "factbench.testing.scripted_server", "--port", str(port), "--models", "scripted"]
    with start(cmd, f"http://127.0.0.1:{port}/v1", "scripted", timeout_s=60) as served:
        assert served.proc.poll() is None
        assert wait_ready(served.base_url, served.proc, timeout_s=5) == ["scripted"]
    assert served.proc.poll() is not None  # stopped on exit


def test_readiness_fails_fast_when_the_server_dies():
    proc = subprocess.Popen([sys.executable, "-c", "import sys; sys.exit(3)"])
    with pytest.raises(ServeError, match="exited with status 3"):
        wait_ready(f"http://127.0.0.1:{free_port()}/v1", proc, timeout_s=30, interval_s=0.05)


def test_readiness_times_out_on_a_silentfree_port():
    with pytest.raises(ServeError, match="not ready after"):
        wait_ready(f"http://127.0.0.1:{free_port()}/v1", None, timeout_s=0.3, interval_s=0.05)


def test_make_leaderboard_builds_from_committed_runs(tmp_path):
    runs = sorted(str(p) for p in (ROOT / "results" / "published").iterdir() if (p / "summary.json").is_file())
    assert any("factscore-instructgpt-human" in r for r in runs)
    assert main(["leaderboard", "build", *runs, "--out", str(tmp_path)]) == 0
    md = (tmp_path / "leaderboard.md").read_text()
    assert "InstructGPT" in md and "42.6 [" in md  # the human-judged row
    assert "PerplexityAI" in md and "71.6 [" in md  # the second human-judged row
